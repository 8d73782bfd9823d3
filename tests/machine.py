"""What a test needs of the machine: skipped on a laptop without it, a failure in CI."""

import os

import pytest


def needs(available: bool, what: str) -> None:
    """Skip the test unless `available`; in CI (CI=true), where everything the suite uses is
    installed, fail instead, so a missing piece never passes as a skip."""
    if not available:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must provide {what}")
        pytest.skip(f"needs {what}")
