"""Security settings: active sessions, ended one by one or all others at once."""

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.settings import bp
from portal.extensions import db, htmx
from portal.forms import ActionForm
from portal.services import sessions
from portal.services.events import log_auth
from portal.services.permissions import requires


@bp.route("/security")
@requires("self.account")
def security():
    return render_template("settings/security.html", **_sessions_context())


@bp.route("/security/sessions/<int:session_id>/end", methods=["POST"])
@requires("self.account")
def end_session(session_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    if not sessions.end_session_of(current_user, session_id):
        abort(404)
    log_auth("session_ended", user=current_user)
    db.session.commit()
    return _sessions_fragment_or_page()


@bp.route("/security/sessions/end-others", methods=["POST"])
@requires("self.account")
def end_other_sessions():
    if not ActionForm().validate_on_submit():
        abort(400)
    count = sessions.revoke_user_sessions(current_user, keep=sessions.current_session())
    log_auth("sessions_ended", user=current_user, detail=f"{count} other sessions")
    db.session.commit()
    return _sessions_fragment_or_page()


def _sessions_fragment_or_page():
    if htmx:
        return render_template("settings/_sessions.html", **_sessions_context())
    return redirect(url_for("settings.security"))


def _sessions_context() -> dict:
    return {"user_sessions": sessions.active_sessions(current_user),
            "this_session": sessions.current_session(), "action_form": ActionForm()}
