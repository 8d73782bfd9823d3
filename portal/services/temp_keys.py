"""Temporary keys: break-glass sign-in links issued by root, hashed, single use, short-lived."""

from datetime import timedelta

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import TempKey, User
from portal.models.base import utcnow
from portal.services import auth_methods, identifiers
from portal.services.errors import DomainError
from portal.services.events import log_audit, log_auth
from portal.services.links import public_url
from portal.services.tokens import digest, new_token


class TempKeyRefused(DomainError):
    """A temporary key that may not be issued."""


def issue_key(login: str, minutes: int) -> tuple[User, str]:
    """A one-time sign-in URL for `login`; audited. Refused for closed accounts or a switched-off method."""
    user = identifiers.find_account(login)
    if user is None:
        raise TempKeyRefused(f"No account with the login {login!r}.")
    if not user.can_sign_in:
        raise TempKeyRefused("This account is denied access or deactivated; no key was issued.")
    if not auth_methods.switched_on("temp_key", user.provider_id):
        raise TempKeyRefused("Temporary keys are switched off for this account's provider.")
    if not 1 <= minutes <= 24 * 60:
        raise TempKeyRefused("The lifetime must be between 1 and 1440 minutes.")
    key = new_token()
    expires_at = utcnow() + timedelta(minutes=minutes)
    db.session.add(TempKey(user_id=user.id, key_hash=digest(key), expires_at=expires_at))
    log_audit("temp_key_issued", target=user, actor_label="root (CLI)",
              changes={"expires_at": [None, expires_at.isoformat(timespec="seconds")]})
    db.session.commit()
    return user, public_url("auth.temp_key_open", key=key)


def use_key(key: str) -> User:
    """Spend the key and return its account; raises TempKeyRefused (one message for every reason)."""
    row = db.session.execute(select(TempKey).where(TempKey.key_hash == digest(key or ""))).scalar_one_or_none()
    refused = TempKeyRefused("This key is invalid, used or expired. Ask the operator for a new one.")
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        log_auth("temp_key_refused", user=row.user if row else None)
        db.session.commit()
        raise refused
    if not row.user.can_sign_in or not auth_methods.switched_on("temp_key", row.user.provider_id):
        log_auth("temp_key_refused", user=row.user, detail="account closed or method off")
        db.session.commit()
        raise refused
    # Spend it: of two requests with the same key at once, only the one whose UPDATE found it
    # unused goes on (the other waits on the row lock, then matches nothing).
    spent = db.session.execute(
        update(TempKey).where(TempKey.id == row.id, TempKey.used_at.is_(None)).values(used_at=utcnow())
    ).rowcount
    if spent != 1:
        db.session.rollback()
        raise refused
    log_audit("temp_key_used", target=row.user, actor=row.user)
    return row.user
