"""The client area: what a customer's users see."""

from flask import Blueprint

from portal.services.permissions import guard

bp = Blueprint("client", __name__)
guard(bp, "client")

from portal.blueprints.client import finance, orders, routes, users  # noqa: E402,F401
