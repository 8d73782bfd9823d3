"""Links in emails and SMS, always built from PUBLIC_URL (never the request's Host)."""

from flask import current_app, has_request_context, url_for


def public_url(endpoint: str, **values) -> str:
    """Works in a request and outside one (CLI commands print links too)."""
    if has_request_context():
        path = url_for(endpoint, _external=False, **values)
    else:
        path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path
