"""SMS delivery behind one interface: `send_sms`; backends console (outbox) and vonage."""

import logging

from flask import current_app

from portal.extensions import db
from portal.models import OutboxMessage
from portal.models.fraud import mask
from portal.services.delivery import DeliveryError

log = logging.getLogger(__name__)


def send_sms(to_e164: str, text: str) -> None:
    """Deliver a text message to an E.164 number; raises DeliveryError."""
    backend = current_app.config["SMS_BACKEND"]
    if backend == "console":
        db.session.add(OutboxMessage(channel="sms", recipient=to_e164, body=text))
        db.session.commit()
    elif backend == "vonage":
        from portal.services import vonage_client

        try:
            vonage_client.send_sms(current_app.config, to_e164, text, current_app.config["SMS_SENDER"])
        except vonage_client.VonageError as exc:
            log.error("Vonage SMS to %s failed: %s", mask(to_e164), exc)
            raise DeliveryError("The text message could not be sent. Please try again later.") from exc
    else:
        raise RuntimeError(f"unknown SMS_BACKEND {backend!r}")
