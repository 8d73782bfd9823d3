"""Developer tools, registered only with a console message backend."""

from flask import Blueprint

from portal.services.permissions import guard

bp = Blueprint("dev", __name__)
guard(bp, "self")

from portal.blueprints.dev import routes  # noqa: E402,F401
