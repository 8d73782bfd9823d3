"""Messages: the console outbox, and security notices waiting for the mail relay."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow


class OutboxMessage(db.Model):
    """An email or SMS kept for /dev/outbox instead of being delivered."""

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))  # "email" | "sms"
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)


class PendingNotice(db.Model):
    """A security notice ("Your password was changed") waiting to be emailed: written in the
    transaction of the change it reports, deleted once sent (portal/services/notices.py).

    Notices carry no secrets (no reset links or codes: those stay in memory, and the user can ask
    again), so a row may wait in the database until the relay takes it.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a sender's lease on the row
    last_error: Mapped[str | None] = mapped_column(String(200))  # the relay's refusal, never a secret
