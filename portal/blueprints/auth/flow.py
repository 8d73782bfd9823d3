"""What happens once a password (or another first factor) has been accepted."""

from flask import redirect, url_for

from portal.extensions import db
from portal.services import sessions
from portal.services.events import log_auth
from portal.services.redirects import safe_next


def home_for(user) -> str:
    return url_for("admin.dashboard") if user.is_staff else url_for("client.home")


def complete_sign_in(user, remember: bool = False, next_url: str | None = None, method: str = "password"):
    """Start the session and send the user on; the single exit of every first factor."""
    sessions.start_session(user, remember=remember)
    log_auth("login", user=user, detail=method)
    db.session.commit()
    return redirect(safe_next(next_url, home_for(user)))
