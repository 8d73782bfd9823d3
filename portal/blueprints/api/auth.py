"""Who is calling the API: a Bearer token, or authinfo (login:password) in HTTP Basic or the POST body."""

from flask import current_app, g, request
from flask_login import AnonymousUserMixin

from portal.blueprints.api import bp
from portal.extensions import limiter
from portal.services import api_tokens, auth_methods, gates, signin
from portal.services.permissions import required_function_of
from portal.services.throttle import per_account_of

QUERY_SECRETS = ("authinfo", "token", "access_token", "password")


def api_error(status: int, code: str, message: str):
    return {"error": {"code": code, "message": message}}, status


def authinfo() -> tuple[str, str] | None:
    """(login, password) from an HTTP Basic header or a POST body (form or JSON); never the query."""
    if request.authorization is not None and request.authorization.type == "basic":
        return request.authorization.username or "", request.authorization.password or ""
    if request.method == "POST":
        body = request.get_json(silent=True) if request.is_json else request.form
        value = body.get("authinfo") if isinstance(body, dict) else None
        if isinstance(value, str) and ":" in value:
            login, password = value.split(":", 1)
            return login, password
    return None


def _authinfo_login() -> str | None:
    found = authinfo()
    return found[0] if found else None


# authinfo counts against the login form's per-account counter, and per address.
per_account_of("RATELIMIT_LOGIN_PER_ACCOUNT", _authinfo_login)(bp)
limiter.shared_limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_IP"], scope="api-authinfo",
                     exempt_when=lambda: _authinfo_login() is None)(bp)
limiter.limit(lambda: current_app.config["RATELIMIT_API_PER_IP"])(bp)


@bp.url_value_preprocessor
def _forget_the_session_cookie(endpoint, values):
    """Runs before every hook: the API never sees the browser's session."""
    g._login_user = AnonymousUserMixin()


@bp.before_request
def authenticate():
    if any(name in request.args for name in QUERY_SECRETS):
        return api_error(400, "credentials_in_query", "Send credentials in an HTTP Basic or Bearer "
                         "Authorization header or in the POST body, never in the URL: URLs are logged.")
    if request.endpoint is None or required_function_of(request.endpoint) is None:
        return None
    if request.authorization is not None and request.authorization.type == "bearer":
        return _by_token(request.authorization.token or "")
    found = authinfo()
    if found is not None:
        return _by_authinfo(*found)
    return None


def _by_token(secret: str):
    token = api_tokens.authenticate(secret)
    if token is None:
        return api_error(401, "invalid_token", "The token is unknown, expired or revoked.")
    if not auth_methods.enabled("api", token.user.provider_id):
        return api_error(403, "method_off", "API tokens are switched off.")
    g._login_user, g.api_token = token.user, token
    return gates.enforce_gates()


def _by_authinfo(login: str, password: str):
    """Checked against the default provider's switch first (before anything is guessed, as the
    sign-in page), then against the account's own provider."""
    off = api_error(403, "method_off", "authinfo is switched off; use an API token.")
    if not auth_methods.enabled("api_authinfo"):
        return off
    try:
        user = signin.check_authinfo(login, password)
    except signin.SecondFactorRequired as refusal:
        return api_error(403, "second_factor_required", refusal.message)
    except signin.SignInFailed as failure:
        return api_error(401, "invalid_credentials", failure.message)
    if not auth_methods.enabled("api_authinfo", user.provider_id):
        return off
    g._login_user = user
    return gates.enforce_gates()


def check_token_scope(blueprint) -> None:
    """After the guard: a token request also needs the view's function among the token's scopes."""

    @blueprint.before_request
    def _token_scope():
        token = g.get("api_token")
        code = required_function_of(request.endpoint) if request.endpoint else None
        if token is not None and code is not None and not api_tokens.allows(token, code):
            return api_error(403, "scope", f"This token does not carry the scope {code}.")
        return None
