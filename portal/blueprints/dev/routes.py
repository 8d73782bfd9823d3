"""The console outbox: messages the console backends kept instead of sending."""

from flask import abort, render_template, request

from portal.blueprints.dev import bp
from portal.services import delivery
from portal.services.permissions import public

LOOPBACK = ("127.", "::1")
PROXIED = ("X-Forwarded-For", "Forwarded", "X-Real-IP")  # what a proxy on this host adds


@bp.route("/outbox")
@public
def outbox():
    """Only from the machine itself: the outbox holds live reset links and codes. A request that
    came through a proxy on this host also has a loopback peer, so it is refused by its headers."""
    if not (request.remote_addr or "").startswith(LOOPBACK) or any(h in request.headers for h in PROXIED):
        abort(404)
    return render_template("dev/outbox.html", messages=delivery.outbox())
