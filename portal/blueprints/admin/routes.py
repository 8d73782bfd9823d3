"""The admin dashboard: each widget shows only when the staff member holds its function."""

from flask import render_template
from flask_login import current_user

from portal.blueprints.admin import bp
from portal.models import UserKind
from portal.services import dashboard as widgets
from portal.services.permissions import has_function, requires


@bp.route("/")
@requires("dashboard.view")
def dashboard():
    def allowed(code):
        return has_function(current_user, code)

    return render_template(
        "admin/dashboard.html",
        chart=widgets.sign_in_chart() if allowed("logs.auth") else None,
        staff_now=widgets.signed_in_now(UserKind.STAFF) if allowed("admins.view") else None,
        clients_now=widgets.signed_in_now(UserKind.CLIENT) if allowed("users.view") else None,
        audit=widgets.latest_audit() if allowed("logs.audit") else None,
        attention=widgets.attention(),
    )
