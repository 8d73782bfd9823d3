"""What the message backends share: their error, and the outbox the console backends write to."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage
from portal.services.errors import DomainError


def outbox(limit: int = 100) -> list[OutboxMessage]:
    """The newest messages the console backends kept instead of sending (the dev outbox page)."""
    return list(db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)).scalars())


class DeliveryError(DomainError):
    """A message could not be handed over; the text is safe to show to the user."""

    default_message = "The message could not be sent. Please try again later."
