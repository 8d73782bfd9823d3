"""Retention: the period staff set, the batched purge the CLI runs (the auth log and every other
row of personal data that ended longer ago than the period), and its summary."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, delete, func, or_, select

from portal.extensions import db
from portal.models import (
    AuthEvent,
    PendingEmailChange,
    PendingRegistration,
    PhoneVerification,
    UserSession,
)
from portal.models.base import utcnow
from portal.models.compliance import PendingConsent, PurgeRun
from portal.models.methods import ApiToken, SignInCode, TempKey
from portal.models.passwords import RecoveryLink, ResetCode
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
    rows: int  # deleted in every table, or that would be deleted on a dry run
    seconds: float
    tables: dict[str, int] = field(default_factory=dict)  # table name -> rows, in purge order


@dataclass(frozen=True)
class RetentionSummary:
    period_days: int
    oldest_kept_at: datetime | None
    last_run: PurgeRun | None

    @property
    def last_run_tables(self) -> str:
        """The last run's rows per table; empty for a run recorded before the breakdown was kept."""
        return listed(self.last_run.rows_by_table or {}) if self.last_run else ""


@dataclass(frozen=True)
class Expiring:
    """A table whose rows go once they ended before the cut-off; `children` (model, foreign key)
    go with their rows, in the same transaction, so that each can be counted."""

    model: type
    ended_before: Callable[[datetime], ColumnElement[bool]]
    children: tuple = ()


def _session_ended_before(cutoff: datetime) -> ColumnElement[bool]:
    """Signed out or revoked before the cut-off, or past the longest lifetime the current
    settings give such a row (sessions.py ends a row by these limits, not always by writing it)."""
    config = current_app.config
    remember = timedelta(days=config["REMEMBER_DAYS"])  # its idle limit and its age limit alike
    idle = timedelta(minutes=max(config["SESSION_IDLE_MINUTES"], config["STAFF_SESSION_IDLE_MINUTES"]))
    age = timedelta(hours=max(config["SESSION_MAX_HOURS"], config["STAFF_SESSION_MAX_HOURS"]))
    return or_(
        UserSession.revoked_at < cutoff,
        and_(UserSession.remember.is_(True), UserSession.created_at < cutoff - remember),
        and_(UserSession.remember.is_(False),
             or_(UserSession.last_seen_at < cutoff - idle, UserSession.created_at < cutoff - age)),
    )


def _verification_ended_before(cutoff: datetime) -> ColumnElement[bool]:
    """Ended without a verification: failed, expired or cancelled, or still "pending" with a code
    long dead. Verified rows stay: they record when and from where a number was proven, and
    staff's list of flagged numbers reads them; Clear data erases them with the account."""
    row = PhoneVerification
    return and_(row.status != "verified",
                or_(row.finished_at < cutoff, and_(row.finished_at.is_(None), row.expires_at < cutoff)))


def _expired_before(model) -> Callable[[datetime], ColumnElement[bool]]:
    return lambda cutoff: model.expires_at < cutoff


def _token_ended_before(cutoff: datetime) -> ColumnElement[bool]:
    """Revoked or expired before the cut-off, so refused ever since; a live token never matches
    (the cut-off is in the past)."""
    return or_(ApiToken.revoked_at < cutoff, ApiToken.expires_at < cutoff)


# Besides the auth log. Single-use rows are dead once expired: links, codes and keys are hashes
# nobody can use any more (a key's issue and use are in the audit log); so are ended API tokens.
EXPIRING = (
    Expiring(UserSession, _session_ended_before),
    Expiring(PendingRegistration, _expired_before(PendingRegistration),
             ((PendingConsent, PendingConsent.pending_registration_id),)),
    Expiring(PhoneVerification, _verification_ended_before),
    Expiring(PendingEmailChange, _expired_before(PendingEmailChange)),
    Expiring(RecoveryLink, _expired_before(RecoveryLink)),
    Expiring(ResetCode, _expired_before(ResetCode)),
    Expiring(SignInCode, _expired_before(SignInCode)),
    Expiring(TempKey, _expired_before(TempKey)),
    Expiring(ApiToken, _token_ended_before),
)


def period_days() -> int:
    return int(settings.get(AUTH_LOG_DAYS) or 0)


def set_period(days: int) -> dict:
    """Store a new period (audited); the caller commits."""
    return settings.update({AUTH_LOG_DAYS: int(days)})


def purge_auth_log(dry_run: bool = False, batch_size: int = BATCH_SIZE) -> PurgeResult:
    """Delete auth-log rows older than the period, then the rows of EXPIRING that ended before the
    same cut-off, a batch per transaction; record the run (its total and rows per table)."""
    started, clock = utcnow(), time.monotonic()
    days = period_days()
    if days <= 0:
        return PurgeResult(0, None, 0, 0.0)
    cutoff = started - timedelta(days=days)
    if dry_run:
        tables = {AuthEvent.__tablename__: _count(AuthEvent, AuthEvent.created_at < cutoff)}
        for table in EXPIRING:
            tables |= _count_expiring(table, cutoff)
        return PurgeResult(days, cutoff, sum(tables.values()), time.monotonic() - clock, tables)
    tables = {AuthEvent.__tablename__: _purge_auth_events(cutoff, batch_size)}
    for table in EXPIRING:
        tables |= _purge_expiring(table, cutoff, batch_size)
    rows = sum(tables.values())
    db.session.add(PurgeRun(started_at=started, finished_at=utcnow(), cutoff=cutoff,
                            period_days=days, rows_deleted=rows, rows_by_table=tables))
    db.session.commit()
    return PurgeResult(days, cutoff, rows, time.monotonic() - clock, tables)


def _batches(old: ColumnElement[bool], key, batch_size: int):
    """Conditions for the rows matching `old`, each up to `batch_size` of them in order of `key`
    (an indexed column): a range of that index, so each batch's scan starts past the last one."""
    done = None
    while True:
        todo = old if done is None else old & (key > done)
        bound = db.session.execute(
            select(key).where(todo).order_by(key).offset(batch_size - 1).limit(1)
        ).scalar_one_or_none()
        yield todo & (key <= bound) if bound is not None else todo
        if bound is None:
            return
        done = bound


def _purge_auth_events(cutoff: datetime, batch_size: int) -> int:
    rows = 0
    for batch in _batches(AuthEvent.created_at < cutoff, AuthEvent.created_at, batch_size):
        rows += db.session.execute(
            delete(AuthEvent).where(batch).execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()  # each batch its own short transaction
    return rows


def _purge_expiring(table: Expiring, cutoff: datetime, batch_size: int) -> dict[str, int]:
    """The same batches as the auth log's, by primary key (these tables index no end time)."""
    model = table.model
    counts = dict.fromkeys([model.__tablename__] + [child.__tablename__ for child, _ in table.children], 0)
    for batch in _batches(table.ended_before(cutoff), model.id, batch_size):
        for child, key in table.children:
            counts[child.__tablename__] += db.session.execute(
                delete(child).where(key.in_(select(model.id).where(batch)))
                .execution_options(synchronize_session=False)
            ).rowcount
        counts[model.__tablename__] += db.session.execute(
            delete(model).where(batch).execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
    return counts


def _count(model, where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(where)).scalar_one()


def _count_expiring(table: Expiring, cutoff: datetime) -> dict[str, int]:
    model, old = table.model, table.ended_before(cutoff)
    counts = {model.__tablename__: _count(model, old)}
    for child, key in table.children:
        counts[child.__tablename__] = _count(child, key.in_(select(model.id).where(old)))
    return counts


def listed(tables: dict[str, int]) -> str:
    """Rows per table, as the CLI and the pages show them: "auth_event 3, user_session 1"."""
    return ", ".join(f"{table} {rows}" for table, rows in tables.items())


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
