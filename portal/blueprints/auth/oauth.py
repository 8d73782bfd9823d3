"""Sign-in with Google (clients) and Keycloak (staff): /login/<provider> and its callback.

The callback is a GET that signs in: OAuth redirects can only be GETs, and state, nonce and PKCE
bind it to the browser that started the flow, so a forged or replayed link changes nothing.
"""

import requests
from authlib.integrations.base_client import OAuthError
from flask import abort, flash, redirect, url_for
from flask_login import current_user
from joserfc.errors import JoseError

from portal.blueprints.auth import bp
from portal.blueprints.auth.flow import complete_sign_in
from portal.extensions import db
from portal.services import auth_methods, oauth_links, oauth_signin
from portal.services.events import log_auth
from portal.services.links import public_url
from portal.services.permissions import public


@bp.context_processor
def sign_in_options():
    return {"oauth_buttons": [(name, label) for name, label in oauth_signin.PROVIDERS.items()
                              if auth_methods.enabled(name)],
            "web_login_on": auth_methods.enabled("web_login")}


def _enabled_or_404(provider: str) -> None:
    if provider not in oauth_signin.PROVIDERS or not auth_methods.enabled(provider):
        abort(404)


def _failed(provider: str, error: Exception, linking: bool):
    """The provider could not be reached or answered wrong: logged, and the person may retry
    where they started (a link in Security settings, else the login page)."""
    log_auth("oauth_failed", detail=f"{provider}: {type(error).__name__}: {error}"[:300])
    db.session.commit()
    action = "Linking" if linking else "Sign-in with"
    return _back(linking, f"{action} {oauth_signin.PROVIDERS[provider]} failed. Please try again.")


def _back(linking: bool, message: str):
    flash(message, "error")
    if linking:
        return redirect(url_for("settings.security", _anchor="linked-accounts"))
    return redirect(url_for("auth.login"))


@bp.route("/login/<any(google, keycloak):provider>")
@public
def oauth_start(provider):
    _enabled_or_404(provider)
    redirect_uri = public_url("auth.oauth_callback", provider=provider)
    try:  # the provider's metadata is fetched here the first time
        return oauth_signin.client(provider).authorize_redirect(redirect_uri)
    except (requests.RequestException, ValueError) as error:  # signed in, one is here only to link
        return _failed(provider, error, linking=current_user.is_authenticated)


@bp.route("/login/<any(google, keycloak):provider>/callback")
@public
def oauth_callback(provider):
    _enabled_or_404(provider)
    linking = current_user.is_authenticated and oauth_links.awaited(current_user, provider)
    try:
        claims = oauth_signin.verified_claims(provider)
    except (OAuthError, JoseError, requests.RequestException, ValueError, KeyError) as error:
        return _failed(provider, error, linking)
    try:
        if linking:
            oauth_signin.link(current_user, provider, claims)
            oauth_links.announce(current_user, provider)
            db.session.commit()
            flash(f"{oauth_signin.PROVIDERS[provider]} is linked to your account.", "success")
            return redirect(url_for("settings.security", _anchor="linked-accounts"))
        user = oauth_signin.sign_in(provider, claims)
    except oauth_signin.OAuthRefused as refusal:
        return _back(linking, refusal.message)
    return complete_sign_in(user, method=provider, mfa_by_idp=provider == "keycloak" and oauth_signin.mfa_by_idp(claims))
