"""The client's Orders page: what the client's users ordered, newest first."""

from flask_login import current_user

from portal.blueprints.client import bp
from portal.blueprints.lists import list_args, render_list
from portal.services import ordering
from portal.services.permissions import requires


@bp.route("/orders")
@requires("client.order")
def orders():
    cursor = list_args()
    page = ordering.orders_page(current_user.client_id, cursor.get("before"), cursor.get("after"))
    return render_list("client/orders.html", "client/_orders.html", page=page)
