"""The current password a signed-in person types before a sensitive change: one check for every form."""

from portal.extensions import db
from portal.models import User
from portal.services import lockout, passwords
from portal.services.errors import DomainError
from portal.services.events import log_auth


class CurrentPasswordWrong(DomainError):
    default_message = "The current password is not correct."


class NoPasswordYet(CurrentPasswordWrong):
    """An account that signs in with Google or Keycloak only has no password to confirm with."""

    default_message = "This account has no password yet. Set a password first (\"Forgot your password?\" on the sign-in page)."


class CurrentPasswordMissing(CurrentPasswordWrong):
    """Nothing was typed: not a guess, so it does not count toward the lock."""

    default_message = "Enter your current password to confirm this change."


def check_current_password(user: User, password: str, failed_event: str, detail: str | None = None) -> None:
    """The current password proves it is them (a password, email, phone or second-factor change,
    linking or unlinking a sign-in, Clear data). A wrong one counts toward the account lock like a
    failed sign-in, so a stolen session cannot guess the password; during a lock the right one is
    refused too.

    A refusal is logged as `failed_event` (with `detail`) and committed, then CurrentPasswordWrong;
    an empty field is CurrentPasswordMissing and an account without a password NoPasswordYet
    (nothing counted). Each names the form field `current_password`.
    """
    if user.password_hash is None:
        raise NoPasswordYet(field="current_password")
    if not password:
        raise CurrentPasswordMissing(field="current_password")
    locked = lockout.account_locked(user)
    if locked or not passwords.verify_password(user.password_hash, password):
        if not locked:
            lockout.record_failure(user)
        log_auth(failed_event, user=user, detail="account locked" if locked else detail)
        db.session.commit()
        raise CurrentPasswordWrong(field="current_password")
