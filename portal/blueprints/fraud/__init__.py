"""Fraud protection: the catalog and order form, phone verification, and its staff settings."""

from flask import Blueprint

from portal.services.permissions import guard

bp = Blueprint("fraud", __name__)
guard(bp, "self")

from portal.blueprints.fraud import admin, routes  # noqa: E402,F401
