"""What the dashboard shows: sign-in activity per day, who is signed in, recent changes, what needs attention."""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, AuthEvent, User, UserKind, UserSession
from portal.models.base import utcnow
from portal.services.listing import period, period_label

# Auth-log events counted in each series of the chart.
SERIES = {
    "Sign-ins": ("login",),
    "Failures": ("login_failed", "recovery_code_failed"),
    "Lockouts": ("account_locked",),
}
WIDTH, HEIGHT, PAD = 640, 200, 30


@dataclass
class Chart:
    """Counts per day and series, with the SVG geometry already computed."""

    days: list[str]
    counts: dict[str, list[int]]
    top: int

    def x(self, index: int) -> float:
        step = (WIDTH - 2 * PAD) / max(len(self.days) - 1, 1)
        return round(PAD + index * step, 1)

    def y(self, value: int) -> float:
        return round(HEIGHT - PAD - value * (HEIGHT - 2 * PAD) / self.top, 1)

    def points(self, series: str) -> str:
        return " ".join(f"{self.x(i)},{self.y(v)}" for i, v in enumerate(self.counts[series]))

    size = (WIDTH, HEIGHT, PAD)


def sign_in_chart(days: int = 14) -> Chart:
    """Sign-ins, failures and lockouts per UTC day over the last `days` days, one query."""
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    labels = [(first + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    day = period(AuthEvent.created_at, "day")
    wanted = [event for events in SERIES.values() for event in events]
    rows = db.session.execute(
        select(day, AuthEvent.event, func.count()).where(
            AuthEvent.created_at >= first, AuthEvent.event.in_(wanted)).group_by(day, AuthEvent.event)
    ).all()
    counts = {name: [0] * days for name in SERIES}
    index = {label: i for i, label in enumerate(labels)}
    for value, event, count in rows:
        label = period_label(value, "day")
        for name, events in SERIES.items():
            if event in events and label in index:
                counts[name][index[label]] += count
    top = max([1, *(max(values) for values in counts.values())])
    return Chart(labels, counts, top)


def signed_in_now(kind: UserKind, limit: int = 20) -> list[tuple[User, object]]:
    """People of `kind` with a session used within the idle limit, most recent first."""
    minutes = current_app.config[
        "STAFF_SESSION_IDLE_MINUTES" if kind == UserKind.STAFF else "SESSION_IDLE_MINUTES"]
    last_seen = func.max(UserSession.last_seen_at).label("last_seen")
    recent = (select(UserSession.user_id, last_seen)
              .where(UserSession.revoked_at.is_(None),
                     UserSession.last_seen_at >= utcnow() - timedelta(minutes=minutes))
              .group_by(UserSession.user_id).subquery())
    return list(db.session.execute(
        select(User, recent.c.last_seen).join(recent, recent.c.user_id == User.id)
        .where(User.kind == kind).order_by(recent.c.last_seen.desc()).limit(limit)).all())


def latest_audit(limit: int = 10) -> list[AuditEvent]:
    return list(db.session.execute(
        select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)).scalars())


def attention() -> dict[str, int]:
    """Counts worth a look: locked accounts, denied administrators, failures in the last day."""
    now = utcnow()
    return {
        "locked": db.session.scalar(select(func.count()).select_from(User).where(User.locked_until > now)),
        "denied_admins": db.session.scalar(select(func.count()).select_from(User).where(
            User.kind == UserKind.STAFF, User.access_denied.is_(True))),
        "failures_24h": db.session.scalar(select(func.count()).select_from(AuthEvent).where(
            AuthEvent.event.in_(SERIES["Failures"]), AuthEvent.created_at >= now - timedelta(days=1))),
    }
