"""GDPR clear data: the preview, the confirmed start, and the batched, resumable anonymization."""

import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import Client, Payment, User
from portal.models.base import utcnow
from portal.models.compliance import ErasureJob
from portal.services import erasure, reauth, sessions
from portal.services.errors import DomainError
from portal.services.events import log_audit
from portal.services.personal_data import PersonalData, registered

BATCH_USERS = 100  # users erased per transaction
STEP_SECONDS = 1.0  # work done per progress request before answering
STALLED_AFTER = timedelta(minutes=10)  # an unfinished job older than this shows on the compliance page


class ClearRefused(DomainError):
    """The confirmation did not hold; `field` names the form field the message belongs to."""


@dataclass(frozen=True)
class Preview:
    client: Client
    users: list[User]
    entries: list[PersonalData]
    payments: int
    payments_total: Decimal


LAST = ("phone_verification", "audit_event", "client", "user")  # the others find rows by what these hold


def ordered_entries() -> list[PersonalData]:
    """Every registered table, then `phone_verification`, `audit_event`, `client` and `user`: the
    others find rows by the users' names, by the numbers they tried (texts in the outbox), and by
    their earlier emails and logins, which only the audit trail keeps. Not the import order."""
    return sorted(registered(), key=lambda entry: LAST.index(entry.name) + 1 if entry.name in LAST else 0)


def users_of(client: Client) -> list[User]:
    return list(db.session.execute(
        select(User).where(User.client_id == client.id).order_by(User.id)
    ).scalars())


def preview(client: Client) -> Preview:
    """What Clear data will erase and keep, field by field, for this client."""
    count, total = db.session.execute(
        select(func.count(Payment.id), func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.client_id == client.id)
    ).one()
    return Preview(client, users_of(client), ordered_entries(), count, Decimal(total))


def unfinished_job(client: Client) -> ErasureJob | None:
    return db.session.execute(
        select(ErasureJob).where(ErasureJob.client_id == client.id,
                                 ErasureJob.finished_at.is_(None))
    ).scalars().first()


def unfinished_jobs() -> list[ErasureJob]:
    """Every job not at its receipt yet: started, and left by its page or stopped by an error."""
    return list(db.session.execute(
        select(ErasureJob).where(ErasureJob.finished_at.is_(None)).order_by(ErasureJob.id)
    ).scalars())


def start(client: Client, staff: User, password: str, typed_name: str) -> ErasureJob:
    """Check the confirmation, then deactivate the client and its users in one statement.

    A deactivated account is refused on its next request, whatever it carries (session, remember
    cookie, token); each batch's transaction also revokes them (`revoke_everything`).
    """
    reauth.check_current_password(staff, password, "password_check_failed", "clear data")
    if typed_name.strip() != client.name:
        raise ClearRefused("Type the client's name exactly as shown above.", "client_name")
    job = unfinished_job(client)
    if job is not None:
        return job
    user_ids = list(db.session.execute(
        select(User.id).where(User.client_id == client.id).order_by(User.id)).scalars())
    db.session.execute(update(User).where(User.client_id == client.id)
                       .values(is_active_account=False).execution_options(synchronize_session=False))
    client.is_active = False
    job = ErasureJob(client_id=client.id, requested_by_id=staff.id, total_users=len(user_ids),
                     rows_changed={})
    db.session.add(job)
    log_audit("client_data_clear_started", target=client, changes={"users": [None, len(user_ids)]})
    db.session.commit()
    return job


def run_batch(job: ErasureJob, batch_size: int = BATCH_USERS) -> None:
    """Erase the next batch of users in one transaction, moving the cursor with it.

    The job's row is locked first (PostgreSQL), so a progress page and `finish-clear-data` running
    the same job take turns: each batch starts from the cursor the other one left.
    """
    db.session.refresh(job, with_for_update=True)
    if job.finished_at is not None:  # the other runner got there first
        db.session.commit()
        return
    user_ids = list(db.session.execute(
        select(User.id).where(User.client_id == job.client_id, User.id > job.last_user_id)
        .order_by(User.id).limit(batch_size)
    ).scalars())
    if not user_ids:
        return _finish(job)
    batch = select(User.id).where(User.client_id == job.client_id, User.id > job.last_user_id,
                                  User.id <= user_ids[-1])  # a query, not a long list of parameters
    counts = dict(job.rows_changed or {})
    try:
        for entry in ordered_entries():
            counts[entry.name] = counts.get(entry.name, 0) + entry.erase(batch)
        sessions.revoke_everything(batch)  # after the erasers: they find messages by pending addresses
        job.rows_changed = counts
        job.done_users += len(user_ids)
        job.last_user_id = user_ids[-1]
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def step(job: ErasureJob, seconds: float = STEP_SECONDS) -> ErasureJob:
    """Run batches for about `seconds` (one progress poll; `math.inf` runs to the receipt);
    safe to call again after a stop."""
    deadline = time.monotonic() + seconds
    while job.finished_at is None and time.monotonic() < deadline:
        run_batch(job)
    return job


def _finish(job: ErasureJob) -> None:
    """Close the job and write the receipt: who, when, which client, rows per kind; no names."""
    counts = dict(job.rows_changed or {})
    counts["client"] = counts.get("client", 0) + erasure.anonymize_clients([job.client_id])
    job.rows_changed = counts
    job.finished_at = utcnow()
    log_audit("client_data_cleared", target=job.client, actor=job.requested_by,
              changes={"job": [None, job.id], "users": [None, job.done_users],
                       **{f"rows.{kind}": [None, rows] for kind, rows in sorted(counts.items())}})
    db.session.commit()
