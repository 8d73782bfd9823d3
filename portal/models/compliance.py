"""Compliance: consent documents and the consent log, auth-log purges, client erasure jobs."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Client, PendingRegistration, User
from portal.models.base import UTCDateTime, utcnow


class ConsentDocument(db.Model):
    """A document users consent to (Privacy policy, User agreement, ...), required or optional."""

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120), unique=True)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list["ConsentVersion"]] = relationship(
        back_populates="document", order_by="ConsentVersion.number"
    )


class ConsentVersion(db.Model):
    """One version of a document: its text and the moment it takes effect."""

    __table_args__ = (Index("ix_consent_version_document_id_number", "document_id", "number",
                            unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("consent_document.id"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[ConsentDocument] = relationship(back_populates="versions")


class ConsentRecord(db.Model):
    """The consent log, append-only: who decided what about which version, when, from where."""

    __table_args__ = (Index("ix_consent_record_user_id_document_id", "user_id", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(ForeignKey("consent_document.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("consent_version.id"), index=True)
    decision: Mapped[str] = mapped_column(String(12))  # accepted | declined | withdrawn
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)

    user: Mapped[User] = relationship()
    version: Mapped[ConsentVersion] = relationship()


class PendingConsent(db.Model):
    """A decision made on the registration form, recorded once the account exists."""

    id: Mapped[int] = mapped_column(primary_key=True)
    pending_registration_id: Mapped[int] = mapped_column(
        ForeignKey("pending_registration.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(ForeignKey("consent_version.id"))
    decision: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)

    pending_registration: Mapped[PendingRegistration] = relationship()


class PurgeRun(db.Model):
    """One run of `purge-auth-log`: when, the cut-off and how many rows went, in each table."""

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime)
    period_days: Mapped[int] = mapped_column(Integer)
    rows_deleted: Mapped[int] = mapped_column(Integer)
    # {table: rows}, in purge order; None on runs recorded before the breakdown was kept
    rows_by_table: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class ErasureJob(db.Model):
    """A GDPR clear of one client, run in batches; the cursor makes it resumable."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    total_users: Mapped[int] = mapped_column(Integer, default=0)
    done_users: Mapped[int] = mapped_column(Integer, default=0)
    last_user_id: Mapped[int] = mapped_column(Integer, default=0)
    rows_changed: Mapped[dict] = mapped_column(JSON, default=dict)  # {kind: rows}

    client: Mapped[Client] = relationship()
    requested_by: Mapped[User | None] = relationship()
