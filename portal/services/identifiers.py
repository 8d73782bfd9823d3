"""Logins and emails are one namespace: sign-in, recovery and temporary keys accept either, so no
value may be one account's login and another's email. How they are folded, found and claimed.

Python folds all of Unicode, SQL's lower() (`folded`) ASCII alone on SQLite and on PostgreSQL as its
locale says; the two agree on every value compared because a chosen login is ASCII (LOGIN_SHAPE), a
client user's login is their email, and emails are stored folded by Python and so compared as they are."""

import logging
import re

from sqlalchemy import or_, select

from portal.extensions import db
from portal.models import User
from portal.models.base import folded
from portal.services.errors import DomainError

log = logging.getLogger(__name__)


LOGIN_MAX, EMAIL_MAX = User.login.type.length, User.email.type.length
EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # one @, a dot in the domain, no spaces
LOGIN_SHAPE = re.compile(r"[A-Za-z0-9._@+-]+")  # ASCII: folded alike by Python and by every database


class IdentifierRefused(DomainError):
    """A login or email an account cannot have."""


class AccountExists(DomainError):
    """A login or email already in use; `field` names which of the values claimed clashes."""

    default_message = "An account with this login or email already exists."


def fold(value: str | None) -> str:
    """The form in which logins and emails are compared (and emails stored)."""
    return (value or "").strip().lower()


def find_account(identifier: str) -> User | None:
    """The user whose login or email is `identifier`, in any case."""
    value = fold(identifier)
    if not value:
        return None
    matches = db.session.execute(
        select(User).where(or_(folded(User.login) == value, User.email == value)).limit(2)
    ).scalars().all()
    if len(matches) > 1:  # rows written before the namespace was shared: never guess which
        log.error("users %s share a login or email; it opens neither until staff change one",
                  sorted(user.id for user in matches))
        return None
    return matches[0] if matches else None


def check_staff_identifiers(login: str, email: str) -> None:
    """What a new staff member's login and email must be, whichever way they come (the
    administrator form, the CLI, a first Keycloak sign-in): IdentifierRefused names the field."""
    if not 1 <= len(login) <= LOGIN_MAX:
        raise IdentifierRefused(f"A login has 1 to {LOGIN_MAX} characters.", "login")
    if not LOGIN_SHAPE.fullmatch(login):
        raise IdentifierRefused("A login has only the letters A to Z (no accents), digits and the marks "
                                ". _ - @ and +.", "login")
    if not EMAIL_SHAPE.fullmatch(email):
        raise IdentifierRefused("This is not a valid email address.", "email")
    if len(email) > EMAIL_MAX:
        raise IdentifierRefused(f"An email address has at most {EMAIL_MAX} characters.", "email")


def taken(*values: str, except_user_id: int | None = None) -> bool:
    """Whether any of `values` is already the login or email of an account (other than
    `except_user_id`), in any case."""
    wanted = [fold(value) for value in values if fold(value)]
    query = select(User.id).where(or_(folded(User.login).in_(wanted), folded(User.email).in_(wanted)))
    if except_user_id is not None:
        query = query.where(User.id != except_user_id)
    return db.session.execute(query.limit(1)).first() is not None


def claim(*, except_user_id: int | None = None, **values: str) -> None:
    """Raise AccountExists naming the first field (`login=..., email=...`) whose value is taken
    (see `taken`)."""
    for field, value in values.items():
        if fold(value) and taken(value, except_user_id=except_user_id):
            raise AccountExists(field=field)
