"""Views of the client area."""

from flask import render_template, url_for
from flask_login import current_user

from portal.blueprints.admin.finance import client_form
from portal.blueprints.client import bp
from portal.services.permissions import requires


@bp.route("/home")
@requires("client.home")
def home():
    return render_template("client/home.html")


@bp.route("/client-profile", methods=["GET", "POST"])
@requires("client.profile")
def profile():
    return client_form(current_user.client, "client/profile.html", url_for("client.profile"))
