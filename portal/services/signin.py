"""Password sign-in: find the account, verify in constant time, count failures and locks, log the outcome."""


from portal.extensions import db
from portal.models import User
from portal.services import identifiers, lockout, passwords
from portal.services.errors import DomainError
from portal.services.events import log_auth


class SignInFailed(DomainError):
    """Wrong login or password, a locked account, or one that may not sign in (one message for all)."""

    default_message = "Wrong login or password."


class AddressLocked(SignInFailed):
    """Too many failures from this IP address: the same answer whatever the login and password."""

    default_message = "Too many failed attempts from your network. Please try again later."


def check_password(login: str, password: str) -> User:
    """Return the account if the password is right and it may sign in; else raise SignInFailed.

    During a lock (of the address or of the account) the password is not checked at all, so
    the right one gets the same answer as a wrong one; the dummy verify keeps the timing.
    """
    user = identifiers.find_account(login)
    if lockout.ip_locked():
        passwords.verify_password(None, password)
        log_auth("login_failed", user=user, login=login[:254], detail="address locked")
        db.session.commit()
        raise AddressLocked()
    if user is not None and lockout.account_locked(user):
        passwords.verify_password(None, password)
        log_auth("login_failed", user=user, login=login[:254], detail="account locked")
        db.session.commit()
        raise SignInFailed()
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.can_sign_in:
        if not ok:
            lockout.record_failure(user, login)
        log_auth("login_failed", user=user, login=login[:254],
                 detail=None if user is None or user.can_sign_in else "account closed")
        db.session.commit()
        raise SignInFailed()
    lockout.record_success(user)
    passwords.rehash_if_needed(user, password)
    return user
