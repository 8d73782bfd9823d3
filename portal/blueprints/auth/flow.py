"""What happens once a password (or another first factor) has been accepted."""

from flask import redirect, session, url_for

from portal.extensions import db
from portal.services import (
    devices,
    lockout,
    pending_signin,
    second_factor,
    sessions,
    signin_notices,
)
from portal.services.events import log_auth
from portal.services.redirects import safe_next


def home_for(user) -> str:
    return url_for("admin.dashboard") if user.is_staff else url_for("client.home")


def complete_sign_in(user, remember: bool = False, next_url: str | None = None, method: str = "password",
                     mfa_by_idp: bool = False, second_factor_passed: bool = False):
    """The single exit of every first factor: a user with a second factor is only held pending
    until /login/2fa; `mfa_by_idp` means the identity provider has done multi-factor already."""
    if not (mfa_by_idp or second_factor_passed) and second_factor.has_second_factor(user):
        pending_signin.hold(user, remember, next_url, method)
        log_auth("login_2fa_pending", user=user, detail=method)
        db.session.commit()
        return redirect(url_for("auth.two_factor"))
    lockout.record_success(user)  # here, not at the password: wrong second-factor codes count too
    response = redirect(safe_next(next_url, home_for(user)))  # before the commit, which expires `user`
    signin_notices.tell_owner_if_new_browser(user, method)
    devices.issue(user)
    sessions.start_session(user, remember=remember)
    if mfa_by_idp:
        session["mfa_by_idp"] = True
    log_auth("login", user=user, detail=method)
    db.session.commit()
    return response
