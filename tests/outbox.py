"""Reading the console outbox in tests: messages to a recipient or about a subject, a link or code in one."""

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage

CODE = re.compile(r"code(?: is|:) (\d+)")


def messages(to: str | None = None, subject: str = "") -> list[OutboxMessage]:
    """Emails and texts, oldest first: those to `to` (when given) whose subject starts with `subject`."""
    query = select(OutboxMessage).where(OutboxMessage.subject.startswith(subject, autoescape=True))
    if to is not None:
        query = query.where(OutboxMessage.recipient == to)
    return list(db.session.execute(query.order_by(OutboxMessage.id)).scalars())


def path_in(body: str, path: str = "/") -> str:
    """The path (from `path` on) of the first link in `body` whose path starts with `path`."""
    return re.search(rf"https?://[^/\s]+({re.escape(path)}\S*)", body).group(1)


def link_in(recipient: str, path: str = "/") -> str:
    """The path of the link starting with `path` in the newest message to `recipient`."""
    return path_in(messages(to=recipient)[-1].body, path)


def code_in(recipient: str) -> str:
    """The code in the newest text to `recipient` ("... code is 123456", "... code: 123456")."""
    return CODE.search(messages(to=recipient)[-1].body).group(1)


def sms_count() -> int:
    """How many texts the outbox holds (emails, such as notices, are not counted)."""
    return len(db.session.execute(select(OutboxMessage.id).where(OutboxMessage.channel == "sms")).all())
