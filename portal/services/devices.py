"""Device cookies: a browser that signed in to an account before may still try its password while
strangers' wrong guesses keep the account locked, so a lock cannot be used to shut its owner out.

The cookie is signed (SECRET_KEY), names the account, a random id and the account's session epoch,
and is sent only to /login, where it also lifts the per-account rate limit. A wrong password from it
counts toward that device's own limit as well as the account's lock. Once every session of the
account is revoked (a password change or reset, "Sign out everywhere else", Deny access, Reset
two-factor), the epoch moves on and the cookie vouches no more: whoever signed in with a stolen
password loses the pass too.
"""

import logging
import secrets

from flask import after_this_request, current_app, request, url_for
from itsdangerous import BadData, URLSafeTimedSerializer

from portal.models import User
from portal.services import counters, identifiers, settings
from portal.services.lockout import ACCOUNT_FAILURES

log = logging.getLogger(__name__)

COOKIE = "portal_device"
DAYS = 180
FAILURE_WINDOW = 24 * 3600  # a device's wrong passwords are forgotten after a day


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="portal-device")


def _device_of(user: User) -> str | None:
    """The id of this browser's device cookie, if it is valid, names `user` and was issued in the
    account's current session epoch (a cookie naming none was issued before epochs were written
    into it, when every account's was 0)."""
    try:
        data = _signer().loads(request.cookies.get(COOKIE, ""), max_age=DAYS * 86400)
    except BadData:
        return None
    if not isinstance(data, dict) or data.get("u") != user.id or data.get("e", 0) != user.session_epoch:
        return None
    return data.get("d")


def _failures_key(device: str) -> str:
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}/device-failures/{device}"


def known(user: User) -> bool:
    """This browser signed in to `user` before, in the account's current session epoch."""
    return _device_of(user) is not None


def trusted(user: User) -> bool:
    """This browser signed in to `user` before and has not used up its own wrong passwords."""
    device = _device_of(user)
    if device is None:
        return False
    try:
        failures = int(counters.storage().get(_failures_key(device)) or 0)
    except Exception:  # the store is away: the account's lock applies as to anyone
        return False
    return failures < int(settings.get(ACCOUNT_FAILURES, user.provider_id))


def vouches_for(identifier: str | None) -> bool:
    """This browser carries a trusted device cookie of the account `identifier` names (its sign-in
    skips the per-account rate limit, which strangers can keep spent as they can keep a lock up)."""
    if COOKIE not in request.cookies:
        return False
    user = identifiers.find_account(identifier or "")
    return user is not None and trusted(user)


def record_failure(user: User) -> None:
    device = _device_of(user)
    if device is not None:
        try:
            counters.storage().incr(_failures_key(device), FAILURE_WINDOW)
        except Exception:
            log.warning("counter store unavailable: a device's failure was not counted")


def issue(user: User) -> None:
    """After a full sign-in, or a password change in a signed-in browser (which proves as much):
    the answer to this request makes this browser `user`'s device, with a new id, for the account's
    session epoch as it is now."""
    value = _signer().dumps({"u": user.id, "d": secrets.token_urlsafe(16), "e": user.session_epoch})

    @after_this_request
    def set_cookie(response):
        response.set_cookie(COOKIE, value, max_age=DAYS * 86400, path=url_for("auth.login"), httponly=True,
                            secure=current_app.config["SESSION_COOKIE_SECURE"], samesite="Lax")
        return response
