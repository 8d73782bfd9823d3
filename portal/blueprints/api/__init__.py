"""The JSON API at /api/v1: tokens or authinfo, never a session cookie; CSRF does not apply."""

from flask import Blueprint

from portal.extensions import csrf
from portal.services.permissions import guard

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

from portal.blueprints.api import auth  # noqa: E402  (authenticates before the guard runs)

guard(bp, "self")
auth.check_token_scope(bp)

from portal.blueprints.api import openapi, routes  # noqa: E402,F401
