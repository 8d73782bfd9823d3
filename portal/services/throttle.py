"""Flask-Limiter decorators for credential checks: per IP and per account."""

from collections.abc import Callable

from flask import current_app, request
from flask_login import current_user

from portal.extensions import limiter
from portal.services import devices
from portal.services.identifiers import fold


def per_ip(config_key: str, typed: str | None = None):
    """Limit POSTs from one address by the configured rate (with `typed`: as per_user)."""
    return limiter.limit(lambda: current_app.config[config_key], methods=["POST"],
                         exempt_when=_left_empty(typed))


def _left_empty(field: str | None) -> Callable[[], bool]:
    """A request that does not fill in `field` is not counted (None: every request counts)."""
    return lambda: field is not None and not request.form.get(field)


def per_account(config_key: str, field: str = "login", device_vouches: bool = False):
    """Limit POSTs naming one account (the form field `field`), whatever the address. With
    `device_vouches` (sign-in), a browser with the account's device cookie is not limited here:
    strangers can keep the count spent as they can keep a lock up (devices; its own failures count).

    Counted by the name as typed (folded), not by the account it names: one count for an
    account's login and email would tell anyone who spends it under one name whether the other
    belongs to the same account. The account's own failures are capped by its lock (lockout)."""
    return per_account_of(config_key, lambda: request.form.get(field), methods=["POST"],
                          exempt=lambda: device_vouches and devices.vouches_for(request.form.get(field)))


def per_account_of(config_key: str, account: Callable[[], str | None], methods: list[str] | None = None,
                   exempt: Callable[[], bool] = lambda: False):
    """Limit requests naming the account `account()` returns, whatever the address. Every route
    limited by the same config key shares one counter per account (the login form and API
    authinfo count together); a request naming no account, or one `exempt()` excuses, is not
    counted here."""

    def named() -> str:
        return fold(account())[:254]

    return limiter.shared_limit(
        lambda: current_app.config[config_key],
        scope=config_key,
        key_func=lambda: "account:" + named(),
        methods=methods,
        exempt_when=lambda: not named() or exempt(),
    )


def per_user(config_key: str, typed: str | None = None):
    """Limit POSTs of the signed-in user, whatever the address (a code or password they type).
    With `typed`, only the POSTs that fill in that field count: a form that asks for a password
    for some changes only (the Administrators form) is not limited for the others."""
    return limiter.limit(
        lambda: current_app.config[config_key],
        key_func=lambda: f"user:{getattr(current_user, 'id', 'anonymous')}",
        methods=["POST"],
        scope=lambda endpoint: f"{endpoint}:user",
        exempt_when=_left_empty(typed),
    )
