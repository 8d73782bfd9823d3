"""Views of the client area."""

from flask import render_template

from portal.blueprints.client import bp
from portal.services.permissions import requires


@bp.route("/home")
@requires("client.home")
def home():
    return render_template("client/home.html")
