"""The client's own finance: balance, payments and expenses of the signed-in user's client only."""

from flask_login import current_user

from portal.blueprints.client import bp
from portal.blueprints.lists import list_args, render_list
from portal.services import finance
from portal.services.permissions import requires


@bp.route("/finance", endpoint="finance")
@requires("client.finance")
def finance_page():
    client_id = current_user.client_id
    args = list_args()
    args.pop("search")
    return render_list("client/finance.html", "client/_payments.html",
                       balance=finance.balances([client_id])[client_id],
                       page=finance.list_payments(client_id=client_id, **args),
                       expenses=finance.list_expenses(client_id=client_id, size=20).rows)
