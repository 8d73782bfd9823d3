"""General settings: the user's name, email and verified phone."""

from flask import render_template

from portal.blueprints.settings import bp
from portal.services.permissions import requires


@bp.route("/general")
@requires("self.account")
def general():
    return render_template("settings/general.html")
