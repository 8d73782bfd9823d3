"""Flask-Limiter decorators for credential checks: per IP and per account."""

from flask import current_app, request
from flask_login import current_user

from portal.extensions import limiter


def per_ip(config_key: str):
    """Limit POSTs from one address by the configured rate."""
    return limiter.limit(lambda: current_app.config[config_key], methods=["POST"])


def per_account(config_key: str, field: str = "login"):
    """Limit POSTs naming one account (the form field `field`), whatever the address."""

    def account_key() -> str:
        return "account:" + (request.form.get(field) or "").strip().lower()[:254]

    return limiter.limit(
        lambda: current_app.config[config_key],
        key_func=account_key,
        methods=["POST"],
        scope=lambda endpoint: f"{endpoint}:account",
    )


def per_user(config_key: str):
    """Limit POSTs of the signed-in user, whatever the address (a code or password they type)."""
    return limiter.limit(
        lambda: current_app.config[config_key],
        key_func=lambda: f"user:{getattr(current_user, 'id', 'anonymous')}",
        methods=["POST"],
        scope=lambda endpoint: f"{endpoint}:user",
    )
