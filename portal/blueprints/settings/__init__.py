"""A signed-in user's own settings: General settings and security."""

from flask import Blueprint

from portal.services.permissions import guard

bp = Blueprint("settings", __name__, url_prefix="/settings")
guard(bp, "self")

from portal.blueprints.settings import (  # noqa: E402,F401
    api_tokens,
    consents,
    general,
    linked_accounts,
    phone,
    security,
    two_factor,
)
