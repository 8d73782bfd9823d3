"""Sign-in methods: temporary keys, second factors, recovery codes, OAuth links, API tokens, role mapping."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.access import AccessGroup
from portal.models.accounts import User
from portal.models.base import UTCDateTime, utcnow


def _user_fk():
    return mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)


class TempKey(db.Model):
    """A break-glass sign-in link issued by root; only its SHA-256 is kept, usable once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class SecondFactor(db.Model):
    """A second factor of one user: "totp" (secret encrypted at rest) or "sms" (to the verified phone)."""

    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_second_factor_user_id_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    kind: Mapped[str] = mapped_column(String(10))
    secret: Mapped[str | None] = mapped_column(String(300), nullable=True)  # Fernet token (TOTP)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_step: Mapped[int] = mapped_column(Integer, default=0)  # last TOTP step used (no replay)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(db.Model):
    """One of the ten single-use recovery codes, stored as SHA-256."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SignInCode(db.Model):
    """A 6-digit code sent by SMS for a pending sign-in; hashed, short-lived, few attempts."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OAuthLink(db.Model):
    """An account at Google or Keycloak, known by (issuer, subject) and never by email alone."""

    __tablename__ = "oauth_link"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_oauth_link_issuer_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    provider: Mapped[str] = mapped_column(String(20))  # "google" | "keycloak"
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiToken(db.Model):
    """A named, scoped, expiring API token; only its SHA-256 is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)  # function codes
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()


class KeycloakRoleMapping(db.Model):
    """A Keycloak realm or client role granting Full access or an access group (the group itself,
    so renaming it keeps the mapping, and a new group of an old name gains nothing)."""

    __table_args__ = (UniqueConstraint("provider_id", "role", name="uq_keycloak_role_mapping_provider_id_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    role: Mapped[str] = mapped_column(String(255))  # "realm-role" or "client-id:role"
    full_access: Mapped[bool] = mapped_column(default=False)
    access_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_group.id", ondelete="CASCADE"), nullable=True, index=True)

    access_group: Mapped[AccessGroup | None] = relationship()
