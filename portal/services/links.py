"""Links in emails and SMS, always built from PUBLIC_URL (never the request's Host)."""

from flask import current_app, url_for


def public_url(endpoint: str, **values) -> str:
    path = url_for(endpoint, _external=False, **values)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path
