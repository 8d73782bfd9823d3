"""Views of the admin area."""

from flask import render_template

from portal.blueprints.admin import bp
from portal.services.permissions import requires


@bp.route("/")
@requires("dashboard.view")
def dashboard():
    return render_template("admin/dashboard.html")
