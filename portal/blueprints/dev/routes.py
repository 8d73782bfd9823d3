"""The console outbox: messages the console backends kept instead of sending."""

from flask import abort, render_template, request

from portal.blueprints.dev import bp
from portal.services import delivery
from portal.services.permissions import public

LOOPBACK = ("127.", "::1")


@bp.route("/outbox")
@public
def outbox():
    """Only from the machine itself: the outbox holds live reset links and codes."""
    if not (request.remote_addr or "").startswith(LOOPBACK):
        abort(404)
    return render_template("dev/outbox.html", messages=delivery.outbox())
