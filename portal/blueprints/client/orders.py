"""The client's Orders page: what the client's users ordered, newest first."""

from flask import render_template
from flask_login import current_user

from portal.blueprints.client import bp
from portal.services import ordering
from portal.services.permissions import requires


@bp.route("/orders")
@requires("client.order")
def orders():
    return render_template("client/orders.html", orders=ordering.orders_of_client(current_user.client_id))
