"""/login/key/<key>: the key leaves the address bar at once; a button spends it (no GET changes state)."""

from flask import redirect, render_template, session, url_for

from portal.blueprints.auth import bp
from portal.blueprints.auth.flow import complete_sign_in
from portal.forms import ActionForm
from portal.services import temp_keys
from portal.services.auth_methods import requires_method
from portal.services.permissions import public
from portal.services.throttle import per_ip

SESSION_KEY = "temp_key"


@bp.route("/login/key/<key>")
@public
@requires_method("temp_key")
def temp_key_open(key):
    """Keep the key in the signed session cookie and redirect to an address without it."""
    session[SESSION_KEY] = key[:100]
    return redirect(url_for("auth.temp_key"))


@bp.route("/login/key", methods=["GET", "POST"])
@public
@requires_method("temp_key")
@per_ip("RATELIMIT_LOGIN_PER_IP")
def temp_key():
    form = ActionForm()
    error = None
    if SESSION_KEY not in session:
        return redirect(url_for("auth.login"))
    if form.validate_on_submit():
        try:
            user = temp_keys.use_key(session.pop(SESSION_KEY))
        except temp_keys.TempKeyRefused as refusal:
            error = refusal.message
        else:
            return complete_sign_in(user, method="temp_key")
    return render_template("auth/temp_key.html", form=form, error=error)
