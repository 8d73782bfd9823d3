"""A sign-in waiting for its second factor: kept in the signed Flask session, never a signed-in session."""

import time

from flask import session

from portal.extensions import db
from portal.models import User
from portal.services import devices, lockout, sessions

KEY = "pending_2fa"
PENDING_SECONDS = 600


def hold(user: User, remember: bool, next_url: str | None, method: str) -> None:
    """Remember who passed the first factor; nothing else in this browser is signed in."""
    sessions.end_current_session()
    session.clear()
    session[KEY] = {"uid": user.id, "remember": bool(remember), "next": next_url or "",
                    "method": method, "since": int(time.time()), "epoch": user.session_epoch}


def pending() -> dict | None:
    data = session.get(KEY)
    if not data or time.time() - data.get("since", 0) > PENDING_SECONDS:
        return None
    return data


def pending_user() -> User | None:
    """The user of a live pending sign-in who may still sign in: not locked meanwhile (wrong codes
    count toward the lock; the owner's known browser goes through it, as at /login), and whose
    sessions have not all been revoked since the first step (a password change or reset, "Sign
    out everywhere else": this half of a session ends with them)."""
    data = pending()
    user = db.session.get(User, data["uid"]) if data else None
    if user is None or not user.can_sign_in or data.get("epoch") != user.session_epoch:
        return None
    if lockout.account_locked(user) and not devices.trusted(user):
        return None
    return user


def drop() -> None:
    session.pop(KEY, None)
