"""API tokens: named, scoped no wider than the owner's functions, expiring, shown once, stored hashed."""

from datetime import timedelta

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import ApiToken, User
from portal.models.base import utcnow
from portal.services import factor_notices, reauth
from portal.services.client_ip import client_ip
from portal.services.errors import DomainError
from portal.services.events import log_auth
from portal.services.permissions import FUNCTIONS, has_function
from portal.services.personal_data import UserIds
from portal.services.tokens import digest, new_token

PREFIX = "pt_"
MAX_DAYS = 365


class TokenRefused(DomainError):
    """A token that may not be created as asked."""


def grantable_scopes(user: User) -> list[str]:
    """The function codes the user holds now: a token can carry these and no others."""
    return [code for code in FUNCTIONS if has_function(user, code)]


def create_token(user: User, name: str, days: int, scopes: list[str], password: str) -> tuple[ApiToken, str]:
    """A new token; returns the row and the secret, which is never shown again. The caller commits.
    The owner's current password is asked and the owner is emailed: a token outlives the session
    that made it (until its expiry or a password change), so a session alone must not mint one."""
    allowed = set(grantable_scopes(user))
    if not scopes:
        raise TokenRefused("Choose at least one scope.")
    if not set(scopes) <= allowed:
        raise TokenRefused("A token cannot do more than you can.")
    if not 1 <= days <= MAX_DAYS:
        raise TokenRefused(f"Choose between 1 and {MAX_DAYS} days.")
    reauth.check_current_password(user, password, "api_token_refused", "wrong current password")
    secret = PREFIX + new_token()
    row = ApiToken(user_id=user.id, name=name.strip(), token_hash=digest(secret), scopes=sorted(scopes),
                   expires_at=utcnow() + timedelta(days=days))
    db.session.add(row)
    db.session.flush()
    log_auth("api_token_created", user=user, detail=f"token {row.id}: {row.name}"[:300])
    factor_notices.tell_owner(user, "api_token_created")
    return row, secret


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())).scalars())


def revoke_token(user: User, token_id: int) -> bool:
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    log_auth("api_token_revoked", user=user, detail=f"token {row.id}: {row.name}"[:300])
    return True


def revoke_all_tokens(user_ids: UserIds) -> int:
    """Revoke every live API token of these users; returns how many."""
    return db.session.execute(
        update(ApiToken).where(ApiToken.user_id.in_(user_ids), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())).rowcount


def authenticate(secret: str) -> ApiToken | None:
    """The live token with this secret, its last use recorded; None if unknown, expired or revoked."""
    row = db.session.execute(select(ApiToken).where(ApiToken.token_hash == digest(secret))).scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at < now or not row.user.can_sign_in:
        return None
    row.last_used_at, row.last_used_ip = now, client_ip()
    db.session.commit()
    return row


def allows(token: ApiToken, code: str) -> bool:
    """The token names the function and its owner still holds it."""
    return code in token.scopes and has_function(token.user, code)
