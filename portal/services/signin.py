"""Password sign-in (the form and API authinfo): find the account, verify in constant time, count
failures and locks, log the outcome."""

from portal.extensions import db
from portal.models import User
from portal.services import devices, identifiers, lockout, passwords, second_factor
from portal.services.errors import DomainError
from portal.services.events import log_auth


class SignInFailed(DomainError):
    """Wrong login or password, a locked account, or one that may not sign in (one message for all)."""

    default_message = "Wrong login or password."


class SecondFactorRequired(DomainError):
    """API authinfo is a password alone: never enough for an account that must use a second factor."""

    default_message = "This account uses two-factor authentication: create an API token instead."


class AddressLocked(SignInFailed):
    """Too many failures from this IP address: the same answer whatever the login and password."""

    default_message = "Too many failed attempts from your network. Please try again later."


def check_password(login: str, password: str) -> User:
    """Return the account if the password is right and it may sign in; else raise SignInFailed.
    The failure count is reset only once the sign-in is complete (a second factor may follow).

    During a lock (of the address or of the account) the password is not checked at all, so
    the right one gets the same answer as a wrong one; the dummy verify keeps the timing. A
    browser that signed in to the account before is let through an account lock (`devices`).
    """
    user = identifiers.find_account(login)
    if lockout.ip_locked():
        passwords.verify_password(None, password)
        log_auth("login_failed", user=user, login=login[:254], detail="address locked")
        db.session.commit()
        raise AddressLocked()
    if user is not None and lockout.account_locked(user) and not devices.trusted(user):
        passwords.verify_password(None, password)
        lockout.record_failure(None, login)  # counted as for any name: the captcha and address lock tell nothing
        log_auth("login_failed", user=user, login=login[:254], detail="account locked")
        db.session.commit()
        raise SignInFailed()
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.can_sign_in:
        if not ok:
            lockout.record_failure(user, login)
            if user is not None:
                devices.record_failure(user)
        log_auth("login_failed", user=user, login=login[:254],
                 detail=None if user is None or user.can_sign_in else "account closed")
        db.session.commit()
        raise SignInFailed()
    passwords.rehash_if_needed(user, password)
    return user


def check_authinfo(login: str, password: str) -> User:
    """API authinfo: `check_password`, then SecondFactorRequired for an account a password alone
    must not open (logged)."""
    user = check_password(login, password)
    if second_factor.must_use_second_factor(user):
        log_auth("api_authinfo_refused", user=user, detail="account must use two-factor")
        db.session.commit()
        raise SecondFactorRequired()
    lockout.record_success(user)
    return user
