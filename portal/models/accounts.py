"""Providers, clients and users (client users and staff in one table)."""

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, folded, utcnow


class UserKind(enum.StrEnum):
    """Which area a user belongs to."""

    CLIENT = "client"
    STAFF = "staff"


class Provider(db.Model):
    """A hosting provider; the portal ships with one default provider."""

    # At most one default: two first requests on a new database cannot both create it.
    __table_args__ = (Index("uq_provider_one_default", "is_default", unique=True,
                            sqlite_where=text("is_default"), postgresql_where=text("is_default")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Client(db.Model):
    """A customer account (company or person) with an owner and more users."""

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", use_alter=True, ondelete="SET NULL"), nullable=True
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    provider: Mapped[Provider] = relationship()
    owner: Mapped["User | None"] = relationship(foreign_keys=[owner_id], post_update=True)
    users: Mapped[list["User"]] = relationship(
        back_populates="client", foreign_keys="User.client_id"
    )


class User(UserMixin, db.Model):
    """A person who signs in: a client user or a staff member."""

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    kind: Mapped[UserKind] = mapped_column(
        Enum(UserKind, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e])
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("client.id"), nullable=True, index=True
    )
    login: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # E.164; indexed for the reused-number check (portal.services.phone_verification)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A number verified without the password (at /verify-phone) takes sign-in and recovery codes only after this.
    phone_recovery_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    full_access: Mapped[bool] = mapped_column(Boolean, default=False)
    access_denied: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active_account: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    # Goes up each time every session of the user is revoked (portal.services.sessions): a sign-in
    # waiting for its second factor that began before is over too (portal.services.pending_signin),
    # and the device cookies issued before stop lifting the lock (portal.services.devices).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())

    client: Mapped[Client | None] = relationship(back_populates="users", foreign_keys=[client_id])

    @property
    def is_staff(self) -> bool:
        return self.kind == UserKind.STAFF

    @property
    def has_verified_phone(self) -> bool:
        """A phone number that passed verification (a change of number clears it)."""
        return bool(self.phone) and self.phone_verified_at is not None

    @property
    def phone_takes_codes(self) -> bool:
        """The verified phone may receive sign-in and password-recovery codes now (not while a
        number that a session alone could have added waits out its delay)."""
        return self.has_verified_phone and (self.phone_recovery_after is None
                                            or self.phone_recovery_after <= utcnow())

    @property
    def can_sign_in(self) -> bool:
        """False for denied or deactivated accounts: every way in is shut."""
        return self.is_active_account and not self.access_denied

    @property
    def is_locked(self) -> bool:
        """Inside a lock after too many wrong passwords (portal.services.lockout)."""
        return self.locked_until is not None and self.locked_until > utcnow()

    @property
    def is_client_owner(self) -> bool:
        return self.client is not None and self.client.owner_id == self.id

    # Flask-Login's id is the server-side session token, set by portal.services.sessions.
    session_token = None  # str, not a column

    def get_id(self) -> str | None:
        return self.session_token


# Sign-in finds accounts by their folded login; lists search logins, emails, names and client
# names by prefix (portal.services.listing.search): without these, a scan of every row.
Index("ix_user_folded_login", folded(User.login))
Index("ix_user_folded_email", folded(User.email))
Index("ix_user_folded_name", folded(User.name))
Index("ix_client_folded_name", folded(Client.name))


class PendingRegistration(db.Model):
    """A sign-up waiting for its email link; the account exists only once the link is used."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingEmailChange(db.Model):
    """A new email address waiting for the link sent to it; the account keeps its address until then."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
