"""Brute-force defence: a per-account failure counter and lock in the database, per-IP counts in the rate-limit store."""

import logging
from datetime import timedelta

from flask import current_app, has_request_context
from sqlalchemy import update

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.services import counters, settings
from portal.services.client_ip import client_network
from portal.services.events import log_audit, log_auth
from portal.services.links import public_url
from portal.services.notices import send_notice

log = logging.getLogger(__name__)

ACCOUNT_FAILURES = settings.define("lockout.account_failures", 5,
                                   "Failed attempts per account before a lock", bounds=(1, 100))
IP_FAILURES = settings.define("lockout.ip_failures", 20,
                              "Failed attempts per IP address before a lock", bounds=(1, 10000))
LOCK_MINUTES = settings.define("lockout.lock_minutes", 15,
                               "Length of the first lock in minutes (each further lock doubles it)",
                               bounds=(1, 1440))
NOTIFY_OWNER = settings.define("lockout.notify_owner", True, "Email the owner when their account is locked")
KEYS = [ACCOUNT_FAILURES, IP_FAILURES, LOCK_MINUTES, NOTIFY_OWNER]
MAX_LOCK = timedelta(hours=24)


def _counter_key(kind: str, value: str) -> str:
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}/failures/{kind}/{value}"


def _window_seconds() -> int:
    return int(settings.get(LOCK_MINUTES)) * 60


def recent_failures(kind: str, value: str) -> int:
    """Failures counted in the shared store for an IP ("ip") or a typed login ("login")."""
    try:
        return int(counters.storage().get(_counter_key(kind, value.lower())) or 0)
    except Exception as error:  # the store is down: the database lock still holds
        log.warning("rate-limit store unavailable: %s", error)
        return 0


def _count(kind: str, value: str) -> None:
    try:
        counters.storage().incr(_counter_key(kind, value.lower()), _window_seconds())
    except Exception as error:
        log.warning("rate-limit store unavailable: %s", error)


def ip_locked() -> bool:
    """Too many failures from this address within the window."""
    return recent_failures("ip", client_network()) >= int(settings.get(IP_FAILURES))


def account_locked(user: User) -> bool:
    """True during a lock; an expired lock is lifted here (and logged)."""
    if user.locked_until is None:
        return False
    if user.locked_until > utcnow():
        return True
    user.locked_until = None
    log_auth("account_unlocked", user=user, detail="lock expired")
    db.session.commit()
    return False


def record_failure(user: User | None, login: str = "", *, code_after_password: bool = False) -> None:
    """Count a failed credential check (a wrong password, or a wrong second-factor code after the
    right password); lock the account at every N-th consecutive failure. The caller commits (with
    its log row: one commit, as for a name no account has)."""
    if has_request_context():
        _count("ip", client_network())
    if login:
        _count("login", login.strip()[:254])
    if user is None:
        return
    now = utcnow()
    count = db.session.execute(
        update(User).where(User.id == user.id)
        .where((User.locked_until.is_(None)) | (User.locked_until <= now))
        .values(failed_logins=User.failed_logins + 1).returning(User.failed_logins)
    ).scalar_one_or_none()
    threshold = int(settings.get(ACCOUNT_FAILURES, user.provider_id))
    if count is not None and threshold > 0 and count % threshold == 0:
        minutes = int(settings.get(LOCK_MINUTES, user.provider_id)) * 2 ** (count // threshold - 1)
        until = now + min(timedelta(minutes=minutes), MAX_LOCK)
        db.session.execute(update(User).where(User.id == user.id).values(locked_until=until))
        log_auth("account_locked", user=user, detail=f"{count} failed attempts, until {until:%H:%M} UTC")
        _tell_owner(user, until, code_after_password)


def record_success(user: User) -> None:
    """A right password resets the count (the caller commits)."""
    user.failed_logins = 0


def unlock(user: User, reason: str) -> None:
    """Lift a lock and reset the count (after a password reset); the caller commits."""
    if user.locked_until is not None:
        log_auth("account_unlocked", user=user, detail=reason)
    user.failed_logins = 0
    user.locked_until = None


def unlock_by_staff(actor: User, target: User) -> None:
    """Staff lift a lock before it runs out (the owner called support); audited. The caller commits."""
    unlock(target, f"by {actor.login}")
    log_audit("account_unlocked", target=target, actor=actor)


def _tell_owner(user: User, until, code_after_password: bool) -> None:
    if not settings.get(NOTIFY_OWNER, user.provider_id):
        return
    if code_after_password:
        why = ("after your password was typed correctly and then several wrong sign-in codes, your "
               f"account is locked until {until:%Y-%m-%d %H:%M} UTC. If this was not you, someone "
               "knows your password; change it now:\n")
    else:
        why = (f"after several wrong passwords your account is locked until {until:%Y-%m-%d %H:%M} UTC. "
               "If this was not you, someone may be guessing your password; consider changing it:\n")
    send_notice(user, "Your account was locked", f"{why}{public_url('auth.recover')}\n")

