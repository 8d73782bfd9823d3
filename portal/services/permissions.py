"""The registry of functions and the one check of who may use them."""

from dataclasses import dataclass

from flask import abort, current_app, g, has_request_context, request, url_for
from flask_login import current_user
from sqlalchemy import select, union

from portal.extensions import db, htmx
from portal.models import User
from portal.models.access import GroupFunction, UserFunction, user_access_group
from portal.services.errors import DomainError


@dataclass(frozen=True)
class Function:
    """Something a person may be allowed to do, grouped by module."""

    code: str
    module: str
    label: str
    area: str  # "staff" | "client" | "self" (any signed-in user, for their own account)


_REGISTRY = [
    Function("dashboard.view", "General", "Dashboard", "staff"),
    Function("clients.view", "Clients", "View clients", "staff"),
    Function("clients.edit", "Clients", "Edit clients", "staff"),
    Function("clients.clear_data", "Clients", "Clear client data (GDPR)", "staff"),
    Function("users.view", "Users", "View users", "staff"),
    Function("users.rights", "Users", "Edit users' rights", "staff"),
    Function("users.unlock", "Users", "Unlock locked accounts", "staff"),
    Function("users.reset_2fa", "Users", "Reset users' two-factor authentication", "staff"),
    Function("finance.balance", "Finance", "Balance", "staff"),
    Function("finance.payments", "Finance", "Payments", "staff"),
    Function("finance.expenses", "Finance", "Expenses", "staff"),
    Function("finance.reports", "Finance", "Reports", "staff"),
    Function("orders.view", "Orders", "View orders", "staff"),
    Function("admins.view", "Administrators", "View administrators", "staff"),
    Function("admins.manage", "Administrators", "Manage administrators", "staff"),
    Function("settings.security", "Settings", "Security settings", "staff"),
    Function("settings.methods", "Settings", "Sign-in methods", "staff"),
    Function("settings.fraud", "Settings", "Fraud protection", "staff"),
    Function("settings.modules", "Settings", "Modules", "staff"),
    Function("settings.consent", "Settings", "Consent documents", "staff"),
    Function("logs.auth", "Logs", "Auth log", "staff"),
    Function("logs.audit", "Logs", "Audit log", "staff"),
    Function("client.home", "Client area", "Client area home", "client"),
    Function("client.order", "Client area", "Order services", "client"),
    Function("client.finance", "Client area", "View finance", "client"),
    Function("client.users", "Client area", "Manage the client's users", "client"),
    Function("client.profile", "Client area", "Edit the client profile", "client"),
    Function("self.account", "Own account", "Own settings and security", "self"),
]
FUNCTIONS: dict[str, Function] = {f.code: f for f in _REGISTRY}
# Held by everyone of the area without being granted.
BASELINE = {"staff": {"dashboard.view", "self.account"}, "client": {"client.home", "self.account"}}
# What can be granted in each area: every function of the area but its baseline.
GRANTABLE = {
    area: [f.code for f in _REGISTRY if f.area == area and f.code not in BASELINE[area]]
    for area in ("staff", "client")
}


def area_of(user: User) -> str:
    return "staff" if user.is_staff else "client"


def granted_codes_of(user_ids: list[int]) -> dict[int, set[str]]:
    """What was granted to each user: own functions and (staff) their access groups' functions,
    for any number of users in one query."""
    own = select(UserFunction.user_id, UserFunction.code).where(UserFunction.user_id.in_(user_ids))
    via_groups = (
        select(user_access_group.c.user_id, GroupFunction.code)
        .join(user_access_group, user_access_group.c.group_id == GroupFunction.group_id)
        .where(user_access_group.c.user_id.in_(user_ids))
    )
    granted = {user_id: set() for user_id in user_ids}
    for user_id, code in db.session.execute(union(own, via_groups)):
        granted[user_id].add(code)
    return granted


def assigned_functions_of(users: list[User]) -> dict[int, frozenset[str]]:
    """What each user's rights amount to, signed in or not (by user id): Full access (or, for a
    client, being its owner) is every function of the area; otherwise the baseline plus what was
    granted. One query for a whole list of users."""
    holds_all = {user.id for user in users if (user.full_access if user.is_staff else user.is_client_owner)}
    others = [user.id for user in users if user.id not in holds_all]
    granted = granted_codes_of(others) if others else {}
    assigned = {}
    for user in users:
        area = area_of(user)
        held = set(GRANTABLE[area]) if user.id in holds_all else granted[user.id] & set(GRANTABLE[area])
        assigned[user.id] = frozenset(held | BASELINE[area])
    return assigned


def assigned_functions(user: User) -> frozenset[str]:
    return assigned_functions_of([user])[user.id]


def functions_of(user) -> frozenset[str]:
    """Every function the user may use now (none once access is denied). Cached for the request."""
    if not user.is_authenticated or not user.can_sign_in:
        return frozenset()
    if not has_request_context():
        return assigned_functions(user)
    cache = g.setdefault("_functions", {})
    if user.id not in cache:
        cache[user.id] = assigned_functions(user)
    return cache[user.id]


def forget(user: User) -> None:
    """Drop the cached functions of `user` after their grants changed."""
    if has_request_context():
        g.get("_functions", {}).pop(user.id, None)


def has_function(user: User, code: str) -> bool:
    """The single answer to "may this user use this function?"."""
    FUNCTIONS[code]  # an unknown code is a programming error, never a silent "no"
    return code in functions_of(user)


def grantable_by(actor: User, area: str) -> list[str]:
    """The functions of `area` that `actor` may hand out: only what they hold themselves
    (staff with "Edit users' rights" hand out any client function)."""
    if area == "client" and actor.is_staff:
        return list(GRANTABLE["client"]) if has_function(actor, "users.rights") else []
    held = functions_of(actor)
    return [code for code in GRANTABLE[area] if code in held]


class GrantRefused(DomainError):
    """An attempt to hand out functions the actor does not hold."""

    def __init__(self, codes):
        labels = ", ".join(FUNCTIONS[code].label if code in FUNCTIONS else code for code in sorted(codes))
        super().__init__(f"You cannot grant what you do not hold: {labels}.")


def check_grantable(actor: User, area: str, codes) -> None:
    """Raise GrantRefused unless every code is one `actor` may hand out in `area`."""
    refused = set(codes) - set(grantable_by(actor, area))
    if refused:
        raise GrantRefused(refused)


def modules(area: str) -> dict[str, list[Function]]:
    """The grantable functions of an area grouped by module, in registry order."""
    grouped: dict[str, list[Function]] = {}
    for code in GRANTABLE[area]:
        grouped.setdefault(FUNCTIONS[code].module, []).append(FUNCTIONS[code])
    return grouped


def requires(code: str):
    """Name the function a view needs; the blueprint's guard enforces it."""
    if code not in FUNCTIONS:
        raise KeyError(f"unknown function {code!r}")

    def mark(view):
        view.required_function = code
        return view

    return mark


def public(view):
    """Mark a view open to anonymous visitors (login, registration, recovery)."""
    view.required_function = None
    return view


def required_function_of(endpoint: str):
    """The function an endpoint names; raises AttributeError when it names none."""
    view = current_app.view_functions[endpoint]
    return view.required_function


def guard(blueprint, area: str) -> None:
    """Install the blueprint's single authorization check (area: staff, client or self)."""

    @blueprint.before_request
    def _check_function():
        if request.endpoint is None or request.endpoint not in current_app.view_functions:
            return None
        code = required_function_of(request.endpoint)
        if code is None:
            return None
        if not current_user.is_authenticated:
            if request.blueprint == "api":
                abort(401)
            if htmx:
                return "", 401, {"HX-Redirect": url_for(current_app.login_manager.login_view)}
            return current_app.login_manager.unauthorized()
        if area != "self" and current_user.is_staff != (area == "staff"):
            abort(403)
        if not has_function(current_user, code):
            abort(403)
        return None
