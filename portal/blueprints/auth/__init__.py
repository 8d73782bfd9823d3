"""Sign-in, sign-out, registration, recovery, 2FA, temporary keys and OAuth."""

from flask import Blueprint

from portal.services.permissions import guard

bp = Blueprint("auth", __name__)
guard(bp, "self")

from portal.blueprints.auth import (  # noqa: E402,F401
    oauth,
    recovery,
    routes,
    temp_key,
    two_factor,
)
