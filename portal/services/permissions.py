"""The registry of functions and the one check of who may use them."""

from dataclasses import dataclass

from flask import abort, current_app, request
from flask_login import current_user

from portal.models import User


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


def has_function(user: User, code: str) -> bool:
    """The single answer to "may this user use this function?"."""
    function = FUNCTIONS[code]
    if not user.is_authenticated or not user.can_sign_in:
        return False
    area = "staff" if user.is_staff else "client"
    if function.area not in (area, "self"):
        return False
    if code in BASELINE[area]:
        return True
    if user.is_staff:
        return user.full_access
    return user.is_client_owner


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
            return current_app.login_manager.unauthorized()
        if area != "self" and current_user.is_staff != (area == "staff"):
            abort(403)
        if not has_function(current_user, code):
            abort(403)
        return None

