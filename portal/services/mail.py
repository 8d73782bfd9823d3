"""Email delivery behind one interface: `send_mail`; backends console (outbox) and smtp."""

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from portal.extensions import db
from portal.models import OutboxMessage
from portal.services.delivery import DeliveryError

log = logging.getLogger(__name__)


def send_mail(to: str, subject: str, body: str) -> None:
    """Deliver a plain-text email through the configured backend; raises DeliveryError."""
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "console":
        db.session.add(OutboxMessage(channel="email", recipient=to, subject=subject, body=body))
        db.session.commit()
    elif backend == "smtp":
        _send_smtp(to, subject, body)
    else:
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")


def greeting(user) -> str:
    """How every message to an account holder begins (the name on one line, whatever it holds)."""
    return f"Hello {' '.join((user.name or user.login).split())},\n\n"


def _send_smtp(to: str, subject: str, body: str) -> None:
    cfg = current_app.config
    message = EmailMessage()
    message["From"] = cfg["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]), timeout=cfg["MAIL_TIMEOUT"]) as smtp:
            if cfg["MAIL_USE_TLS"]:
                smtp.starttls()
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("SMTP delivery to %s:%s failed: %s", cfg["MAIL_SERVER"], cfg["MAIL_PORT"], exc)
        raise DeliveryError("The email could not be sent. Please try again later.") from exc
