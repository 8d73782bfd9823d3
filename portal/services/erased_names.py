"""The names (emails, logins, phones) the users being erased have and had: how other rows find them."""

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from portal.extensions import db
from portal.models import (
    AuditEvent,
    PendingEmailChange,
    PendingRegistration,
    PhoneVerification,
    User,
)
from portal.models.base import folded
from portal.services.personal_data import UserIds

PLACEHOLDER_DOMAIN = "erased.invalid"
ERASED = "[erased]"
NAMING_KEYS = ("email", "login")  # keys of recorded changes whose values a user was known by
NOTICE_GRACE = timedelta(minutes=1)  # a message goes out just after what is recorded: a change, a code


@dataclass(frozen=True)
class Names:
    """How other rows name the users being erased, lower-cased: `anytime`; `until`, an earlier one
    another account or sign-up has now, only in rows written until the users gave it up."""

    anytime: set[str]
    until: dict[str, datetime]

    def __bool__(self) -> bool:
        return bool(self.anytime or self.until)

    def all(self) -> set[str]:
        return self.anytime | set(self.until)

    def naming(self, name, written_at) -> ColumnElement[bool]:
        """Whether a row's `name` (folded) is one of these, written at a time it was the users'."""
        return or_(name.in_(self.anytime),
                   *[(name == value) & (written_at <= last) for value, last in self.until.items()])


_batch_names: ContextVar[tuple[object, "Names"] | None] = ContextVar("batch_names", default=None)


def identifiers(user_ids: UserIds) -> Names:
    """Every email (a new one waiting for its link too), login and phone the users have, every
    email and login they had, and every number they were sent a code to, in four queries, gathered
    once a batch (the erasers of one batch get the same `user_ids` query, and so what it named
    before any of them ran). The earlier ones come from the audit trail and the phone
    verifications: their erasers must run after the others (`gdpr.ordered_entries`)."""
    gathered = _batch_names.get()
    if gathered is not None and gathered[0] is user_ids:
        return gathered[1]
    names = _gather(user_ids)
    _batch_names.set((user_ids, names))
    return names


def _gather(user_ids: UserIds) -> Names:
    rows = db.session.execute(
        select(User.email, User.login, User.phone).where(User.id.in_(user_ids))
        .union_all(select(PendingEmailChange.email, None, None)
                   .where(PendingEmailChange.user_id.in_(user_ids)))
    ).all()
    current = _folded(value for row in rows for value in row)
    earlier = {value: last for value, last in (_earlier(user_ids) | _tried_numbers(user_ids)).items()
               if value not in current}
    held = _held_by_others(set(earlier), user_ids)
    return Names(current | (set(earlier) - held),
                 {value: earlier[value] + NOTICE_GRACE for value in held})


def _folded(values) -> set[str]:
    return {value.lower() for value in values if isinstance(value, str) and value
            and value != ERASED and not value.endswith("@" + PLACEHOLDER_DOMAIN)}


def _earlier(user_ids: UserIds) -> dict[str, datetime]:
    """The emails and logins the audit trail records for the users (replaced, or asked for: a link
    went there), each with the last time it was recorded."""
    last: dict[str, datetime] = {}
    for at, changes in db.session.execute(select(AuditEvent.created_at, AuditEvent.changes).where(
            AuditEvent.target_type == "user", AuditEvent.target_id.in_(user_ids))):
        named = [changes.get(key) for key in NAMING_KEYS] if isinstance(changes, dict) else []
        for value in _folded(value for values in named if isinstance(values, list) for value in values):
            last[value] = max(last.get(value, at), at)
    return last


def _tried_numbers(user_ids: UserIds) -> dict[str, datetime]:
    """The numbers the users were sent a code to, kept or given up, each with its last send."""
    return dict(db.session.execute(
        select(PhoneVerification.number, func.max(PhoneVerification.sent_at))
        .where(PhoneVerification.user_id.in_(user_ids)).group_by(PhoneVerification.number)
    ).tuples().all())


def _held_by_others(values: set[str], user_ids: UserIds) -> set[str]:
    """Which of `values` are now another account's login, email or phone, or wait for another
    account's or sign-up's link or code: rows written since name them, not the users."""
    if not values:
        return set()
    others = User.id.not_in(user_ids)
    return {value.lower() for value in db.session.execute(union_all(
        select(folded(User.login)).where(folded(User.login).in_(values), others),
        select(folded(User.email)).where(folded(User.email).in_(values), others),
        select(PendingEmailChange.email).where(PendingEmailChange.email.in_(values),
                                               PendingEmailChange.user_id.not_in(user_ids)),
        select(PendingRegistration.email).where(PendingRegistration.email.in_(values)),
        select(User.phone).where(User.phone.in_(values), others),
        select(PhoneVerification.number).where(PhoneVerification.number.in_(values),
                                               PhoneVerification.user_id.not_in(user_ids)),
    )).scalars()}
