"""Error pages: a full page, an htmx fragment, or JSON for the API."""

import logging

from flask import render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.extensions import db, htmx
from portal.services.errors import DomainError
from portal.web import API_PATHS

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood. Reload the page and try again.",
    401: "Please sign in.",
    403: "You do not have access to this page.",
    404: "This page does not exist.",
    405: "This action is not allowed here.",
    409: "This was changed at the same moment by another request. Reload the page and try again.",
    413: "This request is too large.",
    415: "This form arrived in a format the page does not accept (sent by a script or an extension?). "
         "Reload the page and send the form again.",
    429: "Too many attempts. Please wait a little and try again.",
    500: "Something went wrong on our side. It has been logged; please try again.",
    503: "This action is briefly unavailable. Please try again in a minute.",
}


def init_app(app) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(StorageError, _rate_limit_store_down)
    app.register_error_handler(DomainError, _refusal)
    app.register_error_handler(IntegrityError, _conflict)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def render_error(status: int, message: str | None = None):
    message = message or MESSAGES.get(status, "The request failed.")
    if request.blueprint == "api" or request.path.startswith(API_PATHS):
        return {"error": {"code": f"http_{status}", "message": message}}, status
    if htmx:  # into the page's messages: swapped into its target, it would replace a row or a form
        return (render_template("errors/_fragment.html", status=status, message=message), status,
                {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"})
    return render_template("errors/page.html", status=status, message=message, layout=_layout(status)), status


def _layout(status: int) -> str:
    """A signed-in person keeps their area's menu; a server fault keeps the plain header (the menu
    asks the database, which may be what failed)."""
    if status >= 500 or not current_user.is_authenticated:
        return "base.html"
    return "admin_base.html" if current_user.is_staff else "client_base.html"


def _csrf_error(error):
    return render_error(400, "Your form expired or came from elsewhere. Reload the page and try again.")


def _rate_limit_store_down(error: StorageError):
    """RATELIMIT_FAIL_CLOSED: no credential check runs unthrottled while the store is away."""
    log.warning("rate-limit storage unreachable, refusing %s %s: %s",
                request.method, request.path, error.storage_error)
    return render_error(503)


def _refusal(error: DomainError):
    """A service's refusal that its view did not place next to a field: still its message, never a 500."""
    db.session.rollback()
    return render_error(422, error.message)


def _conflict(error: IntegrityError):
    """Two requests wrote the same unique row at once (a double click, two tabs): the later one
    is told to reload; nothing of it was kept."""
    log.warning("a unique constraint refused a write: %s", error.orig)
    db.session.rollback()
    return render_error(409)


def _http_error(error: HTTPException):
    body, status, *headers = render_error(error.code or 500)
    headers = dict(headers[0]) if headers else {}
    if error.code == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return body, status, headers


def _unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("unhandled error", exc_info=error)
    db.session.rollback()
    return render_error(InternalServerError.code)
