"""API endpoints: who am I, the client's orders, and Deny access on an administrator."""

from flask import abort, g, make_response, request
from flask_login import current_user

from portal.blueprints.api import bp
from portal.blueprints.api.auth import api_error
from portal.extensions import db
from portal.services import access, ordering
from portal.services.listing import parse_id
from portal.services.permissions import FUNCTIONS, has_function, requires
from portal.web import FORM_BODIES


def _order_json(order) -> dict:
    return {"id": order.id, "tariff_id": order.tariff_id, "tariff": order.tariff.name, "status": order.status,
            "price": str(order.price), "created_at": order.created_at.isoformat()}


def _int_arg(name: str, default: int, low: int, high: int) -> int | None:
    value = request.args.get(name, default)
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if low <= value <= high else None


def _body() -> dict:
    """The JSON object or form the request sent (none: empty); anything else is refused with 400,
    never read as an empty body (a broken {"deny": false,} must not fall back to a default)."""
    if request.is_json:
        body = request.get_json(silent=True)
    elif request.mimetype in FORM_BODIES or not request.content_length:
        body = request.form.to_dict()
    else:
        body = None
    if not isinstance(body, dict):
        abort(make_response(*api_error(400, "bad_body", "Send a JSON object (application/json) or a form.")))
    return body


@bp.route("/whoami")
@requires("self.account")
def whoami():
    user = current_user
    token = g.get("api_token")
    return {
        "id": user.id, "login": user.login, "email": user.email, "name": user.name,
        "kind": user.kind.value, "client_id": user.client_id,
        "functions": [code for code in FUNCTIONS if has_function(user, code)],
        "auth": "token" if token else "authinfo",
        "token": {"name": token.name, "scopes": token.scopes, "expires_at": token.expires_at.isoformat()}
        if token else None,
    }


@bp.route("/orders")
@requires("client.order")
def list_orders():
    limit, offset = _int_arg("limit", 50, 1, 200), _int_arg("offset", 0, 0, 10**9)
    if limit is None or offset is None:
        return api_error(400, "bad_paging", "limit must be 1 to 200 and offset 0 or more.")
    orders = ordering.orders_of_client(current_user.client_id, limit=limit, offset=offset)
    return {"orders": [_order_json(order) for order in orders]}


@bp.route("/orders", methods=["POST"])
@requires("client.order")
def create_order():
    tariff_id = parse_id(_body().get("tariff_id"))
    if tariff_id is None:
        return api_error(400, "bad_tariff_id", "tariff_id must be a positive integer.")
    tariff = ordering.get_tariff(tariff_id)
    if tariff is None:
        return api_error(404, "unknown_tariff", "There is no such tariff.")
    try:
        order = ordering.place_order(current_user, tariff)
    except ordering.OrderRefused as refusal:
        db.session.rollback()
        return api_error(422, refusal.code, refusal.message)
    db.session.commit()
    return _order_json(order), 201


@bp.route("/administrators/<int:user_id>/deny-access", methods=["POST"])
@requires("admins.manage")
def deny_access(user_id):
    denied = _body().get("deny")
    if isinstance(denied, str):
        denied = {"true": True, "1": True, "false": False, "0": False}.get(denied.lower())
    if not isinstance(denied, bool):
        return api_error(400, "bad_deny", "deny must be true or false.")
    target = access.get_admin(user_id)
    if target is None:
        return api_error(404, "unknown_administrator", "There is no such administrator.")
    try:
        access.set_access_denied(current_user, target, denied)
    except access.AccessError as refusal:
        db.session.rollback()
        return api_error(422, "access_refused", refusal.message)
    db.session.commit()
    return {"id": target.id, "login": target.login, "access_denied": target.access_denied}
