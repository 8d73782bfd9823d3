"""A signed-in user's own settings: General settings and security."""

from flask import Blueprint

from portal.services.permissions import guard

bp = Blueprint("settings", __name__, url_prefix="/settings")
guard(bp, "self")

from portal.blueprints.settings import consents, general, phone, security  # noqa: E402,F401
