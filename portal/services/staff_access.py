"""Deny access on an administrator: every way in shut at once, audited (used by the API)."""

from portal.extensions import db
from portal.models import User
from portal.services import sessions
from portal.services.events import log_audit


class AccessRefused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def get_admin(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_staff else None


def set_access_denied(actor: User, target: User, denied: bool) -> None:
    """Deny (and revoke every session and token) or allow again. The caller commits."""
    if target.id == actor.id:
        raise AccessRefused("self", "You cannot deny access to yourself.")
    if target.full_access and not actor.full_access:
        raise AccessRefused("not_allowed", "Only an administrator with Full access can deny one who has it.")
    before = target.access_denied
    if before == denied:
        return
    target.access_denied = denied
    if denied:
        sessions.revoke_everything(target)
    log_audit("deny_access" if denied else "allow_access", target=target,
              changes={"access_denied": [before, denied]})
