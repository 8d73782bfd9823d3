"""Clients, balances, payments, expenses, reports and orders: the pages finance staff work in."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.admin import bp
from portal.blueprints.lists import list_args, render_list
from portal.extensions import db
from portal.forms import ClientForm
from portal.services import factor_reset, finance, rights
from portal.services.clients import ClientClosed
from portal.services.clients import rename as rename_client
from portal.services.permissions import has_function, requires

CARD_USERS = 20  # the newest; the Users list holds the rest


@bp.route("/clients")
@requires("clients.view")
def clients():
    page = finance.list_clients(**list_args())
    return render_list("admin/clients.html", "admin/_clients.html", page=page)


@bp.route("/clients/<int:client_id>")
@requires("clients.view")
def client_card(client_id):
    client = finance.get_client(client_id) or abort(404)
    users = rights.list_client_users(client_id=client.id, size=CARD_USERS)
    shown = [user for user, _client in users.rows]
    return render_template(
        "admin/client_card.html", client=client, balance=finance.balances([client.id])[client.id],
        users=[(user, rights.shown_as(current_user, user)) for user in shown],
        more_users=users.older is not None,
        with_factors=factor_reset.with_factors(shown) if has_function(current_user, "users.reset_2fa") else set(),
        payments=finance.list_payments(client_id=client.id, size=10).rows,
        expenses=finance.list_expenses(client_id=client.id, size=10).rows,
        orders=finance.list_orders(client_id=client.id, size=10).rows)


@bp.route("/clients/<int:client_id>/edit", methods=["GET", "POST"])
@requires("clients.edit")
def edit_client(client_id):
    client = finance.get_client(client_id) or abort(404)
    back = "admin.client_card" if has_function(current_user, "clients.view") else "admin.edit_client"
    return client_form(client, "admin/client_edit.html", url_for(back, client_id=client.id))


def client_form(client, template: str, saved_url: str):
    """The client's name form, saved through the one clients service (staff and the client's users)."""
    form = ClientForm(data={"name": client.name})
    if form.validate_on_submit():
        try:
            if rename_client(client, form.name.data):
                db.session.commit()
        except ClientClosed as refused:
            form.name.errors.append(refused.message)
        else:
            flash("Client saved.", "success")
            return redirect(saved_url)
    return render_template(template, form=form, client=client), 422 if form.errors else 200


@bp.route("/finance/balance")
@requires("finance.balance")
def finance_balance():
    page = finance.list_clients(by_owner_email=False, **list_args())  # the page shows no emails
    balances = finance.balances([client.id for client, _owner in page.rows])
    return render_list("admin/balance.html", "admin/_balance.html", page=page, balances=balances)


@bp.route("/finance/payments")
@requires("finance.payments")
def finance_payments():
    return render_list("admin/payments.html", "admin/_payments.html",
                       page=finance.list_payments(**list_args()))


@bp.route("/finance/expenses")
@requires("finance.expenses")
def finance_expenses():
    return render_list("admin/expenses.html", "admin/_expenses.html",
                       page=finance.list_expenses(**list_args()))


@bp.route("/finance/reports")
@requires("finance.reports")
def finance_reports():
    return render_template("admin/reports.html", months=finance.monthly_report())


@bp.route("/orders")
@requires("orders.view")
def orders():
    return render_list("admin/orders.html", "admin/_orders.html", page=finance.list_orders(**list_args()))
