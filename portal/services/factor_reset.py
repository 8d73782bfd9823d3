"""Staff turn off the second factors of an owner who lost them all: audited, and the owner told."""

from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import RecoveryCode, SecondFactor, SignInCode, User
from portal.models.base import utcnow
from portal.services import reauth
from portal.services.events import log_audit
from portal.services.links import public_url
from portal.services.notices import send_notice
from portal.services.second_factor import CONFIRMED_KINDS
from portal.services.sessions import end_sessions

KIND_NAMES = {"totp": "authenticator app", "sms": "SMS codes"}


def factors_of(user: User) -> list[str]:
    """Every second factor the user has set up, whether or not its method is on now: a method
    switched off may come back on, and its factor with it."""
    return sorted(db.session.execute(CONFIRMED_KINDS, {"user_id": user.id}).scalars())


def with_factors(users: list[User]) -> set[int]:
    """The ids of those of `users` who have set up a second factor (one query for all of them)."""
    return set(db.session.execute(select(SecondFactor.user_id).where(
        SecondFactor.user_id.in_([user.id for user in users]), SecondFactor.confirmed_at.is_not(None))).scalars())


def reset_by_staff(actor: User, target: User, actor_password: str) -> list[str]:
    """Remove `target`'s second factors (a set-up half done too), recovery codes and any SMS
    sign-in code in flight, and end their sessions (the lost phone may hold one); audit it and
    tell the owner. Returns the kinds removed; with none, nothing is done. The caller commits.
    The actor's own password is asked first: a stolen staff session must not strip accounts of
    their second factor."""
    removed = factors_of(target)
    if not removed:
        return []
    reauth.check_current_password(actor, actor_password, "password_check_failed", "reset two-factor")
    for model in (SecondFactor, RecoveryCode, SignInCode):
        db.session.execute(delete(model).where(model.user_id == target.id))
    ended = end_sessions([target.id])
    log_audit("second_factor_reset", target=target, actor=actor,
              changes={"second_factors": [removed, []], "sessions": [ended, 0]})
    _tell_owner(target, removed)
    return removed


def _tell_owner(user: User, removed: list[str]) -> None:
    """The owner learns at once if the call to support was not theirs."""
    what = " and ".join(KIND_NAMES[kind] for kind in removed)
    again = ("You will be asked to set one up again when you next sign in."
             if user.is_staff else f"Set one up again in Security settings: {public_url('settings.security')}")
    send_notice(user, "Two-factor authentication was turned off on your account",
                f"support turned off two-factor authentication ({what}) on your account {user.login} "
                f"on {utcnow():%Y-%m-%d %H:%M} UTC, and your recovery codes no longer work. Every "
                f"browser signed in to the account was signed out, and your password alone now "
                f"signs you in. {again}\n\n"
                f"If you did not ask for this, reset your password now and tell support:\n"
                f"{public_url('auth.recover')}\n")
