"""Password sign-in: find the account, verify in constant time, log the outcome."""

from sqlalchemy import func, or_, select

from portal.extensions import db
from portal.models import User
from portal.services import passwords
from portal.services.events import log_auth


class SignInFailed(Exception):
    """Wrong login or password, or an account that may not sign in (one message for all)."""

    message = "Wrong login or password."


def find_account(login: str) -> User | None:
    """The user whose login or email is `login` (case-insensitive)."""
    value = login.strip().lower()
    if not value:
        return None
    return db.session.execute(
        select(User).where(or_(func.lower(User.login) == value, User.email == value))
    ).scalar_one_or_none()


def check_password(login: str, password: str) -> User:
    """Return the account if the password is right and it may sign in; else raise SignInFailed."""
    user = find_account(login)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.can_sign_in:
        log_auth("login_failed", user=user, login=login[:254],
                 detail=None if user is None or user.can_sign_in else "account closed")
        db.session.commit()
        raise SignInFailed()
    passwords.rehash_if_needed(user, password)
    return user
