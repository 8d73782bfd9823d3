"""Auth-log retention: the period staff set, the batched purge the CLI runs, and its summary."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from portal.extensions import db
from portal.models import AuthEvent
from portal.models.base import utcnow
from portal.models.compliance import PurgeRun
from portal.services import settings

AUTH_LOG_DAYS = settings.define(
    "retention.auth_log_days", 0, "Auth log retention (days, 0 keeps rows forever)"
)
MAX_DAYS = 36500
BATCH_SIZE = 200_000  # rows a transaction: fewer, bigger batches rewrite each index page fewer times


@dataclass(frozen=True)
class PurgeResult:
    period_days: int
    cutoff: datetime | None
    rows: int  # deleted, or that would be deleted on a dry run
    seconds: float


@dataclass(frozen=True)
class RetentionSummary:
    period_days: int
    oldest_kept_at: datetime | None
    last_run: PurgeRun | None


def period_days() -> int:
    return int(settings.get(AUTH_LOG_DAYS) or 0)


def set_period(days: int) -> dict:
    """Store a new period (audited); the caller commits."""
    return settings.update({AUTH_LOG_DAYS: int(days)})


def purge_auth_log(dry_run: bool = False, batch_size: int = BATCH_SIZE) -> PurgeResult:
    """Delete auth-log rows older than the period, a batch per transaction; record the run."""
    started, clock = utcnow(), time.monotonic()
    days = period_days()
    if days <= 0:
        return PurgeResult(0, None, 0, 0.0)
    cutoff = started - timedelta(days=days)
    old = AuthEvent.created_at < cutoff
    if dry_run:
        rows = db.session.execute(select(func.count(AuthEvent.id)).where(old)).scalar_one()
        return PurgeResult(days, cutoff, rows, time.monotonic() - clock)
    rows, done = 0, None  # `done`: the bound of the last batch; the index scan starts past it
    while True:  # each batch a range of the created_at index, in its own short transaction
        todo = old if done is None else old & (AuthEvent.created_at > done)
        bound = db.session.execute(
            select(AuthEvent.created_at).where(todo).order_by(AuthEvent.created_at)
            .offset(batch_size - 1).limit(1)
        ).scalar_one_or_none()
        batch = todo & (AuthEvent.created_at <= bound) if bound is not None else todo
        rows += db.session.execute(
            delete(AuthEvent).where(batch).execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if bound is None:
            break
        done = bound
    db.session.add(PurgeRun(started_at=started, finished_at=utcnow(), cutoff=cutoff,
                            period_days=days, rows_deleted=rows))
    db.session.commit()
    return PurgeResult(days, cutoff, rows, time.monotonic() - clock)


def last_run() -> PurgeRun | None:
    return db.session.execute(
        select(PurgeRun).order_by(PurgeRun.finished_at.desc()).limit(1)
    ).scalar_one_or_none()


def summary() -> RetentionSummary:
    """What the auth log page shows: the period, the oldest row kept, the last purge."""
    oldest = db.session.execute(
        select(AuthEvent.created_at).order_by(AuthEvent.created_at).limit(1)
    ).scalar_one_or_none()
    return RetentionSummary(period_days(), oldest, last_run())
