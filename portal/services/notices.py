"""Security notices that are never lost: written with the change they report, mailed after it commits.

A notice ("Your password was changed") is the owner's alarm, and exactly what an attacker wants
lost: so it is a `PendingNotice` row in the caller's transaction, not a message in a worker's
memory. Once that commits, the mail sender thread delivers the due rows (`deliver_due`): each is
claimed for a lease by one UPDATE, so two senders never take the same row; sent, it is deleted;
refused, it is tried again after a backoff (a timer in the process, so a relay that comes back gets
it without a new request), and dropped with a logged error once NOTICE_GIVE_UP_HOURS old. What a
killed worker left is delivered by the next process at its first request, or by `send-notices`.

Notices carry no secrets (no reset links or codes: those stay in memory, and the user can ask again).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import event, func, or_, select, update

from portal.extensions import db
from portal.models import PendingNotice
from portal.models.base import utcnow
from portal.services import background
from portal.services.delivery import DeliveryError
from portal.services.mail import greeting, send_mail
from portal.services.personal_data import NotExported, PersonalData, deleter, register

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a claimed row is another sender's again after this (well past MAIL_TIMEOUT)
MAX_RETRY_DELAY = timedelta(hours=1)
BATCH = 100
WRITTEN = "portal_notice_written"  # session.info key: this transaction holds a notice


@dataclass(frozen=True)
class DeliveryRun:
    """What one `deliver_due` did: notices sent, notices still waiting, and when one is due next."""

    sent: int
    waiting: int
    next_due: datetime | None


def send_notice(user, subject: str, text: str, to: str | None = None) -> None:
    """Tell `user` (at `to`, else their address) about a change made in the caller's transaction:
    the notice commits with it and is mailed after the answer, or rolls back with it."""
    db.session.add(PendingNotice(user_id=user.id, recipient=to or user.email, subject=subject,
                                 body=greeting(user) + text))
    db.session.info[WRITTEN] = True


@event.listens_for(db.session, "after_commit")
def _deliver_after_commit(session) -> None:
    if session.info.pop(WRITTEN, False):
        background.later("mail", deliver_and_retry)


def init_app(app) -> None:
    """The first request of this app (a new worker) has the mail sender deliver what a dead one
    left waiting; later requests pay one flag check, no query."""
    checked = False

    def deliver_left_over() -> None:
        nonlocal checked
        if not checked:
            checked = True
            background.later("mail", deliver_and_retry)

    app.before_request(deliver_left_over)


def deliver_and_retry() -> None:
    """`deliver_due` on the mail sender thread, then a timer for the next notice that falls due."""
    run = deliver_due()
    if run.next_due is not None:
        background.after(max((run.next_due - utcnow()).total_seconds(), 0.05), "mail", deliver_and_retry)


def deliver_due() -> DeliveryRun:
    """Send every notice due now, oldest due first. A refusal stops the run (the relay is likely
    away): the rest wait for the refused notice's next try."""
    sent = 0
    while True:
        due = db.session.execute(select(PendingNotice.id).where(_due(utcnow())).order_by(
            PendingNotice.next_attempt_at, PendingNotice.id).limit(BATCH)).scalars().all()
        for notice_id in due:
            delivered, retry_at = _deliver(notice_id)
            if retry_at is not None:
                return DeliveryRun(sent, _waiting(), retry_at)
            sent += delivered
        if len(due) < BATCH:
            break
    next_due = db.session.execute(select(
        func.min(func.coalesce(PendingNotice.claimed_until, PendingNotice.next_attempt_at)))).scalar()
    return DeliveryRun(sent, _waiting(), next_due)


def _due(now: datetime):
    return (PendingNotice.next_attempt_at <= now) & or_(PendingNotice.claimed_until.is_(None),
                                                        PendingNotice.claimed_until <= now)


def _waiting() -> int:
    waiting = db.session.execute(select(func.count()).select_from(PendingNotice)).scalar_one()
    db.session.commit()
    return waiting


def _deliver(notice_id: int) -> tuple[bool, datetime | None]:
    """Claim, send and delete one notice. Returns whether it was sent (not if another sender has
    it, or it is too old and dropped) and, if the relay refused it, the time of its next try."""
    now = utcnow()
    claimed = db.session.execute(
        update(PendingNotice).where(PendingNotice.id == notice_id, _due(now))
        .values(claimed_until=now + LEASE).execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    notice = db.session.get(PendingNotice, notice_id) if claimed else None
    if notice is None:
        return False, None
    give_up_hours = current_app.config["NOTICE_GIVE_UP_HOURS"]
    if notice.created_at < now - timedelta(hours=give_up_hours):
        log.error("notice %r to user %s dropped: not delivered in %s hours (%s attempts; last error: %s)",
                  notice.subject, notice.user_id, give_up_hours, notice.attempts, notice.last_error)
        _forget(notice)
        return False, None
    try:
        send_mail(notice.recipient, notice.subject, notice.body)
    except DeliveryError as error:
        return False, _postpone(notice, error, now)
    _forget(notice)
    return True, None


def _forget(notice: PendingNotice) -> None:
    db.session.delete(notice)
    db.session.commit()


def _postpone(notice: PendingNotice, error: DeliveryError, now: datetime) -> datetime:
    """Record the refusal (the relay's reason, which holds no secret) and when to try again."""
    reason = error.__cause__ or error
    notice.attempts += 1
    notice.last_error = f"{type(reason).__name__}: {reason}"[:200]
    delay = timedelta(seconds=current_app.config["NOTICE_RETRY_SECONDS"]) * 2 ** min(notice.attempts - 1, 20)
    retry_at = notice.next_attempt_at = now + min(delay, MAX_RETRY_DELAY)
    notice.claimed_until = None
    log.warning("notice %r to user %s not sent (attempt %s), next try at %s UTC: %s", notice.subject,
                notice.user_id, notice.attempts, f"{retry_at:%Y-%m-%d %H:%M:%S}", notice.last_error)
    db.session.commit()
    return retry_at


register(PersonalData("pending_notice", {"recipient, subject, body of notices not yet sent": "deleted"},
                      deleter(PendingNotice),
                      NotExported("security notices waiting for the mail relay: they reach you by email")))
