"""The audit log: what staff (and the CLI) changed, with before and after."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import User
from portal.models.base import UTCDateTime, folded, utcnow


class AuditEvent(db.Model):
    """One change: actor, action, target, before/after, time and IP."""

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    actor_label: Mapped[str] = mapped_column(String(120), default="")  # e.g. "root (CLI)"
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    target_id: Mapped[int | None] = mapped_column(nullable=True)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # {"field": [before, after]}

    actor: Mapped[User | None] = relationship()


Index("ix_audit_event_folded_actor_label", folded(AuditEvent.actor_label))  # the actor filter
Index("ix_audit_event_target_type_target_id", AuditEvent.target_type, AuditEvent.target_id)  # target filter
