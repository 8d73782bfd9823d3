"""A real OpenID Connect provider on loopback: PyPI `oidc-provider-mock` served by werkzeug.

    server = OidcServer().start()
    server.issuer             # http://127.0.0.1:PORT  (authlib accepts http on loopback)
    server.metadata_url       # .../.well-known/openid-configuration (KEYCLOAK/GOOGLE_SERVER_METADATA_URL)
    server.add_user("ann", email="ann@example.com", roles=["portal-admin"], amr=["pwd", "otp"])
    server.app_config("keycloak")   # KEYCLOAK_CLIENT_ID/SECRET/SERVER_METADATA_URL for the portal

How the provider behaves (oidc-provider-mock 0.3.4): any client_id/secret and redirect_uri
are accepted (no registration); the issuer and the ``iss`` of ID tokens are taken from the
Host header, so the app and the browser must both use 127.0.0.1 (never "localhost"). Users
set with PUT /users/{sub} (``add_user``) get their claims in the ID token and at /userinfo;
the standard claims (email, email_verified, name, preferred_username...) only when their
scope (email, profile) was requested; other claims (realm_access, resource_access, groups,
amr, acr) always. A sub that was never added signs in with claims {"email": sub}.

Driving the authorize step:
- plain HTTP (Flask test client for the portal, requests for the provider):
      resp = client.get("/login/keycloak")               # 302 to server.issuer/oauth2/authorize?...
      callback = server.authorize(resp.location, "ann")  # POSTs sub=ann, returns the
      client.get(callback)                               # portal callback URL with code & state
  ``authorize(url, sub, deny=True)`` returns the callback with error=access_denied.
- a browser (Playwright): after the redirect the provider shows "Authorize Client" with a
  text input named "sub" (placeholder "sub") and a button "Authorize" (and "Deny"):
      page.fill("input[name=sub]", "ann"); page.click("button:has-text('Authorize')")
  The page's only external link (a CDN stylesheet) is removed here, so it loads offline.
"""

import oidc_provider_mock
import requests
from jinja2 import ChoiceLoader, DictLoader

from tests.servers.wsgi import ServedByThread, ThreadedWsgiServer

_BASE_TEMPLATE = """<!doctype html>
<html lang="en"><title>OIDC provider (test)</title>
<main class="container">{% block content %}{{ content }}{% endblock %}</main></html>"""


class OidcServer(ServedByThread):
    """oidc-provider-mock on 127.0.0.1 in a thread; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, require_nonce: bool = False,
                 require_client_registration: bool = False):
        self.host = host
        self._options = {"require_nonce": require_nonce,
                         "require_client_registration": require_client_registration}
        self._http = ThreadedWsgiServer(None, host=host, port=port)

    def start(self) -> "OidcServer":
        """Start with a fresh provider (new signing key, no users) unless already running."""
        if not self._http.running:
            app = oidc_provider_mock.app(**self._options)
            app.jinja_loader = ChoiceLoader([DictLoader({"_base.html": _BASE_TEMPLATE}),
                                             app.jinja_loader])
            self._http.app = app
        return super().start()

    @property
    def issuer(self) -> str:
        return self._http.url

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/oauth2/authorize"

    def metadata(self) -> dict:
        return requests.get(self.metadata_url, timeout=5).json()

    def app_config(self, provider: str = "keycloak", client_id: str = "portal",
                   client_secret: str = "portal-secret") -> dict:
        """The portal's <PROVIDER>_CLIENT_ID/_CLIENT_SECRET/_SERVER_METADATA_URL keys."""
        prefix = provider.upper()
        return {f"{prefix}_CLIENT_ID": client_id, f"{prefix}_CLIENT_SECRET": client_secret,
                f"{prefix}_SERVER_METADATA_URL": self.metadata_url}

    def add_user(self, sub: str, *, email: str | None = None, email_verified: bool = True,
                 name: str | None = None, roles=None, client_roles: dict | None = None,
                 groups=None, amr=None, acr: str | None = None, **claims) -> dict:
        """Create or replace a user; Keycloak's shapes: realm_access.roles, resource_access."""
        body: dict = {"email": email or f"{sub}@example.com", "email_verified": email_verified,
                      "preferred_username": sub}
        if name is not None:
            body["name"] = name
        if roles is not None:
            body["realm_access"] = {"roles": list(roles)}
        if client_roles is not None:
            body["resource_access"] = {client: {"roles": list(r)} for client, r in client_roles.items()}
        if groups is not None:
            body["groups"] = list(groups)
        if amr is not None:
            body["amr"] = list(amr)
        if acr is not None:
            body["acr"] = acr
        body.update(claims)
        response = requests.put(f"{self.issuer}/users/{sub}", json=body, timeout=5)
        response.raise_for_status()
        return body

    def revoke_tokens(self, sub: str) -> None:
        """Invalidate every access and refresh token issued to this user."""
        requests.post(f"{self.issuer}/users/{sub}/revoke-tokens", timeout=5).raise_for_status()

    def register_client(self, redirect_uris, auth_method: str = "client_secret_basic") -> dict:
        """Dynamic client registration (only needed with require_client_registration=True)."""
        response = requests.post(f"{self.issuer}/oauth2/clients", timeout=5, json={
            "redirect_uris": list(redirect_uris), "token_endpoint_auth_method": auth_method})
        response.raise_for_status()
        return response.json()

    def authorize(self, authorize_url: str, sub: str, *, deny: bool = False) -> str:
        """Submit the provider's consent form as ``sub``; returns the redirect (callback) URL."""
        if not authorize_url.startswith(self.issuer):
            raise ValueError(f"{authorize_url!r} is not this provider's ({self.issuer})")
        form = {"action": "deny"} if deny else {"sub": sub}
        response = requests.post(authorize_url, data=form, allow_redirects=False, timeout=5)
        if response.status_code != 302:
            raise AssertionError(f"authorize answered {response.status_code}: {response.text[:500]}")
        return response.headers["Location"]
