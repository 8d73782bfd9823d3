"""The client's address as seen after ProxyFix (never a raw X-Forwarded-For)."""

from flask import request


def client_ip() -> str:
    """Address used by rate limits and logs."""
    return request.remote_addr or "unknown"
