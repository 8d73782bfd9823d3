"""Google and Keycloak sign-in in tests: the provider switched on, the dance through the loopback provider."""

import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from portal.extensions import db
from portal.models import KeycloakRoleMapping
from portal.services import auth_methods
from portal.services.access import seed_groups
from portal.services.registration import default_provider

REFUSED = "We could not sign you in with"


@pytest.fixture
def oidc_app(app, make_app, oidc):
    """The portal with Google and Keycloak pointed at the loopback provider, both switched on."""
    portal = make_app(**oidc.app_config("google"), **oidc.app_config("keycloak"))
    switch_on()
    return portal


def switch_on(**extra):
    provider_id = default_provider().id
    values = {**auth_methods.current_values(provider_id), "google": True, "keycloak": True, **extra}
    auth_methods.save_switches(provider_id, values)
    db.session.commit()


def map_role(role, full_access=True, group=None):
    """Map `role` to Full access, or to the access group named `group`."""
    db.session.add(KeycloakRoleMapping(provider_id=default_provider().id, role=role, full_access=full_access,
                                       access_group=seed_groups()[group] if group else None))
    db.session.commit()


def local(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def start(web, provider):
    response = web.get(f"/login/{provider}")
    assert response.status_code == 302
    return response.location


def oauth_login(web, oidc, provider, sub, **authorize_changes):
    authorize_url = with_query(start(web, provider), **authorize_changes)
    return web.get(local(oidc.authorize(authorize_url, sub)))


def sub_name(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
