"""Setting a new password: policy, history, every other way in shut, recovery secrets dead, a notice sent."""

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.services import (
    devices,
    lockout,
    oauth_links,
    password_policy,
    passwords,
    reauth,
    sessions,
)
from portal.services.client_ip import client_ip
from portal.services.events import log_auth
from portal.services.links import public_url
from portal.services.notices import send_notice
from portal.wording import counted


def set_new_password(user: User, password: str, event: str) -> None:
    """Enforce the policy and store `password`; ends every session of the user, and drops their
    links in flight (`sessions.revoke_everything`); a reset also removes linked sign-ins. Commits.

    `event` is "password_changed" or "password_reset" (auth log and the notice's wording).
    """
    password_policy.enforce(password, user=user)
    password_policy.remember_outgoing(user)
    passwords.set_password(user, password)
    lockout.unlock(user, reason="password reset" if event == "password_reset" else "password changed")
    revoked = sessions.revoke_everything([user.id])
    unlinked = oauth_links.drop_all(user) if event == "password_reset" else 0
    log_auth(event, user=user, detail=f"{counted(revoked, 'session')} ended, "
             f"{counted(unlinked, 'linked sign-in')} removed")
    _notify(user, event, unlinked)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """General settings and the expired-password page: the current password proves it is them.

    This browser stays signed in, on a new session, and gets a device cookie of the new session
    epoch: the others' cookies stop lifting the lock, not the one of the browser that proved the
    password.
    """
    reauth.check_current_password(user, current, "password_change_failed")
    remember = bool(sessions.current_session() and sessions.current_session().remember)
    set_new_password(user, new, "password_changed")
    devices.issue(user)
    sessions.start_session(user, remember=remember)
    db.session.commit()


def _notify(user: User, event: str, unlinked: int) -> None:
    what = "reset" if event == "password_reset" else "changed"
    links = " Linked Google or Keycloak sign-ins were removed; link them again in Security settings." if unlinked else ""
    send_notice(user, f"Your password was {what}",
                f"the password of your account {user.login} was {what} on {utcnow():%Y-%m-%d %H:%M} UTC "
                f"from the address {client_ip()}. Every other session was signed out.{links}\n\n"
                f"If this was not you, recover your account now:\n{public_url('auth.recover')}\n")
