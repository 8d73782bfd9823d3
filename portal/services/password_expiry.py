"""Maximum password age (PASS_EXPIRE_PERIOD days): a gate after login, and a warning a few days before."""

from datetime import datetime, timedelta

from flask import current_app, flash, request, session
from flask_login import current_user

from portal.extensions import htmx
from portal.models.base import utcnow
from portal.services.gates import Gate, register_gate
from portal.wording import counted


def expires_at(user) -> datetime | None:
    """When the user's password reaches the maximum age (None: no limit, or no password)."""
    days = int(current_app.config["PASS_EXPIRE_PERIOD"])
    if days <= 0 or not user.password_hash or user.password_changed_at is None:
        return None
    return user.password_changed_at + timedelta(days=days)


def is_expired(user) -> bool:
    deadline = expires_at(user)
    return deadline is not None and deadline <= utcnow()


def warn_if_due() -> None:
    """before_request: once per session, a few days before the deadline, say so."""
    if (not current_user.is_authenticated or request.method != "GET" or htmx
            or session.get("password_expiry_warned")):
        return
    deadline = expires_at(current_user)
    warn = timedelta(days=int(current_app.config["PASS_EXPIRE_WARN_DAYS"]))
    if deadline is not None and utcnow() < deadline <= utcnow() + warn:
        days = max(1, (deadline - utcnow()).days)
        flash(f"Your password expires in {counted(days, 'day')}. "
              "Change it in General settings.", "warning")
        session["password_expiry_warned"] = True


register_gate(Gate("password_expired", is_expired, "settings.expired_password",
                   also_open=frozenset({"auth.password_check"})))
