"""Request hooks for every page: security headers, caching rules, gates, template helpers, the favicon."""

from flask import abort, g, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from portal.menus import ADMIN_MENU, CLIENT_MENU
from portal.models.base import MAX_ID
from portal.services import gates
from portal.services.permissions import has_function, public
from portal.wording import counted

# The policy of every response, directive by directive; a page that needs another origin asks
# for it with `widen_csp` (a page showing reCAPTCHA: its script and frame).
CSP_DIRECTIVES = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "worker-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}


def _policy(directives: dict) -> str:
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


CONTENT_SECURITY_POLICY = _policy(CSP_DIRECTIVES)


def widen_csp(directive: str, *sources: str) -> None:
    """Let the page of this request use `sources` for `directive` too (no other page)."""
    widened = g.setdefault("csp_widened", {})
    widened[directive] = [*widened.get(directive, ()), *sources]


def content_security_policy() -> str:
    """This response's policy: the base one, widened where the page asked for it."""
    widened = g.get("csp_widened")
    if not widened:
        return CONTENT_SECURITY_POLICY
    directives = dict(CSP_DIRECTIVES)
    for name, sources in widened.items():
        directives[name] = tuple(dict.fromkeys([*directives.get(name, ()), *sources]))
    return _policy(directives)


FORM_BODIES = {"application/x-www-form-urlencoded", "multipart/form-data"}


API_PATHS = "/api/"


class BrowserSession(SecureCookieSessionInterface):
    """The signed session cookie belongs to browsers: the API neither reads nor writes it (a token
    request may carry someone else's cookie, whose sign-in facts must lend the token nothing)."""

    def open_session(self, app, request):
        return self.session_class() if request.path.startswith(API_PATHS) else super().open_session(app, request)

    def save_session(self, app, session, response):
        if not request.path.startswith(API_PATHS):
            super().save_session(app, session, response)


class DatabaseId(IntegerConverter):
    """`<int:...>` in every URL: only ids a database integer column holds (else 404, never a 500)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(url_map, fixed_digits, min, max, signed)


def init_app(app) -> None:
    app.url_map.converters["int"] = DatabaseId  # before any blueprint adds its rules
    app.session_interface = BrowserSession()
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    app.before_request(refuse_unstorable_text)
    app.before_request(accept_only_form_bodies)
    app.before_request(gates.enforce_gates)
    app.after_request(security_headers)
    app.jinja_env.globals.update(client_menu=CLIENT_MENU, admin_menu=ADMIN_MENU)
    app.jinja_env.filters["counted"] = counted

    @app.context_processor
    def template_helpers():
        user = current_user._get_current_object()  # not the proxy: lists ask `can` once a row
        return {"can": lambda code: has_function(user, code)}


@public
def favicon():
    """Clients that ask for /favicon.ico without reading the page's icon link get the SVG icon."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


def refuse_unstorable_text():
    """Text no column can hold is a bad request: a NUL byte (PostgreSQL refuses it) or a lone
    surrogate (JSON's "\\ud800": not UTF-8), in the query, a form, a JSON body or Basic credentials."""
    texts = [value for values in (request.args, request.form) for _key, value in values.items(multi=True)]
    if request.is_json:
        try:
            texts += _strings_in(request.get_json(silent=True))
        except RecursionError:  # nested deeper than Python's JSON parser goes
            abort(400)
    if request.authorization is not None and request.authorization.type == "basic":
        texts += [request.authorization.username or "", request.authorization.password or ""]
    if any(not _storable(text) for text in texts):
        abort(400)


def accept_only_form_bodies():
    """Pages take forms only: a POST to one with another body (JSON) is refused with 415, so the
    rate limits and the captcha, which read the form, always see what the form validates
    (Flask-WTF would otherwise read a JSON body that they do not). The API takes JSON."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.url_rule is None or request.blueprint == "api":
        return  # (no rule: the 404 or 405 comes next)
    if request.mimetype in FORM_BODIES or not (request.mimetype or request.content_length):
        return
    abort(415)


def _strings_in(value) -> list[str]:
    """Every string of a JSON value, keys included; walked without recursion, whatever the nesting."""
    found, waiting = [], [value]
    while waiting:
        item = waiting.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            waiting += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            waiting += item
    return found


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static":
        response.vary.add("HX-Request")
        response.vary.add("Cookie")
        if current_user.is_authenticated or request.cookies:
            headers["Cache-Control"] = "no-store"
    return response
