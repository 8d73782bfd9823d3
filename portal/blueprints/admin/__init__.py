"""The admin area (/admin): staff only, each view naming its function."""

from flask import Blueprint

from portal.services.permissions import guard

bp = Blueprint("admin", __name__)
guard(bp, "staff")

from portal.blueprints.admin import (  # noqa: E402,F401
    auth_methods,
    finance,
    logs,
    routes,
    security_settings,
    staff,
    two_factor,
    users,
)
