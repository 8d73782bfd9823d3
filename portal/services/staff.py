"""Creating staff accounts."""

from sqlalchemy import func, or_, select

from portal.extensions import db
from portal.models import User, UserKind
from portal.services import passwords
from portal.services.registration import default_provider


class AccountExists(Exception):
    message = "An account with this login or email already exists."


def create_staff(login: str, email: str, name: str = "", password: str | None = None,
                 full_access: bool = False) -> User:
    """A new staff member (flushed, not committed); without a password, none is set."""
    login, email = login.strip(), email.strip().lower()
    clash = db.session.execute(
        select(User.id).where(or_(func.lower(User.login) == login.lower(), User.email == email))
    ).first()
    if clash:
        raise AccountExists()
    user = User(
        provider_id=default_provider().id, kind=UserKind.STAFF, login=login, email=email,
        name=name or login, full_access=full_access,
    )
    if password is not None:
        passwords.set_password(user, password)
    db.session.add(user)
    db.session.flush()
    return user
