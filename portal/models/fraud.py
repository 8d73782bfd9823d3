"""Phone verifications: one row per number a user is proving, with its tries and sends."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import User
from portal.models.base import UTCDateTime, utcnow


class PhoneVerification(db.Model):
    """A code sent to a number; with Vonage the code never reaches us, only its request id.

    `code_hash` is set only by the console backend (an HMAC, never the code). A resend keeps
    the row and its `attempts`, so asking for a new code does not reset the wrong-try count.
    """

    __table_args__ = (
        Index("ix_phone_verification_user_id_status", "user_id", "status"),
        Index("ix_phone_verification_number_created_at", "number", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))  # E.164
    country: Mapped[str] = mapped_column(String(3), default="")  # ISO region, e.g. "GB"
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # Vonage Verify v2
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # console backend
    status: Mapped[str] = mapped_column(String(12), default="pending")
    # pending | verified | failed (wrong tries) | expired | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # wrong codes entered
    sends: Mapped[int] = mapped_column(Integer, default=0)  # codes sent (first send and resends)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # number verified elsewhere too
    return_to: Mapped[str | None] = mapped_column(String(300), nullable=True)  # the order form
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()

    @property
    def masked_number(self) -> str:
        return mask(self.number)


def mask(number: str | None) -> str:
    """A number for logs and lists: the calling code's first digits and the last three."""
    if not number:
        return ""
    return number[:3] + "*" * max(len(number) - 6, 0) + number[-3:]
