"""The shared counter store (RATELIMIT_STORAGE_URI) behind the failure counts and the SMS and mail budgets.

It has its own connection, apart from Flask-Limiter's, so that these defences stay on when request
throttling is switched off (RATELIMIT_ENABLED = False)."""

from flask import Flask, current_app
from limits.storage import Storage, storage_from_string


def init_app(app: Flask) -> None:
    app.extensions["counters"] = storage_from_string(app.config["RATELIMIT_STORAGE_URI"],
                                                     **app.config["RATELIMIT_STORAGE_OPTIONS"])


def storage() -> Storage:
    """This app's store (per worker with memory://, shared with Redis)."""
    return current_app.extensions["counters"]
