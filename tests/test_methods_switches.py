"""Methods of registration and authorization: the admin page, its switches and the role mapping."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, AuthEvent, KeycloakRoleMapping, Provider, User
from portal.services import auth_methods, temp_keys
from portal.services.access import seed_groups
from portal.services.personal_data import registered
from portal.services.registration import default_provider
from tests.access_helpers import browser
from tests.api_helpers import basic, bearer, make_token
from tests.methods_helpers import enrol_totp
from tests.outbox import link_in
from tests.signup import register
from tests.web import WebClient


@pytest.fixture
def client_web_second(app, factories):
    """A second browser, signed in as a client user, beside staff_web."""
    factories.client_user(email="second@example.com", password="client password 1")
    other = WebClient(app.test_client())
    other.login("second@example.com", "client password 1")
    return other


def methods_url():
    return f"/admin/providers/{default_provider().id}/auth-methods"


def switches(**changes):
    values = {"web_login": "y", "temp_key": "y", "sms_2fa": "y", "totp": "y", "api": "y",
              "api_authinfo": "y"}
    values.update(changes)
    return {key: value for key, value in values.items() if value}


def test_default_endpoint_redirects_to_the_default_provider(staff_web):
    response = staff_web.get("/admin/providers/auth-methods")
    assert response.status_code == 302 and response.headers["Location"] == methods_url()
    body = staff_web.get(methods_url()).get_data(as_text=True)
    for label in ("Web login", "Temporary key", "SMS two-factor", "TOTP two-factor", "Google OAuth",
                  "Keycloak SSO", "API authentication"):
        assert label in body
    assert "sends data to Google" in body and "sends data to your Keycloak server" in body


def test_switching_totp_off_hides_and_refuses_it(staff_web, client_web_second):
    response = staff_web.post_form(methods_url(), switches(totp=None))
    assert response.status_code == 302
    assert auth_methods.switched_on("totp") is False
    change = db.session.execute(select(AuditEvent).where(AuditEvent.action == "auth_methods_changed")).scalar_one()
    assert change.changes["methods.totp"] == [True, False]
    assert (change.target_type, change.target_id) == ("provider", default_provider().id)  # whose methods
    page = client_web_second.get("/settings/security").get_data(as_text=True)
    assert "Set up an authenticator app" not in page
    refused = client_web_second.post_form("/settings/security/totp/begin", {}, page_url="/settings/security")
    assert refused.status_code == 404


def test_cannot_switch_every_way_in_off(staff_web):
    body = staff_web.post_form(methods_url(), switches(web_login=None)).get_data(as_text=True)
    assert "Keep web login on" in body
    assert auth_methods.switched_on("web_login") is True


SSO_CONFIGURED = {"KEYCLOAK_CLIENT_ID": "portal", "KEYCLOAK_CLIENT_SECRET": "secret",
                  "KEYCLOAK_SERVER_METADATA_URL": "https://sso.example/.well-known/openid-configuration",
                  "GOOGLE_CLIENT_ID": "portal", "GOOGLE_CLIENT_SECRET": "secret"}


@pytest.mark.parametrize("config, switched, refusal", [
    ({}, {"keycloak": "y", "google": "y"}, "staff would have no way in"),  # switched on, not configured
    (SSO_CONFIGURED, {"keycloak": "y"}, "clients would have no way in"),  # Keycloak opens staff accounts only
    (SSO_CONFIGURED, {"google": "y"}, "staff would have no way in"),
    (SSO_CONFIGURED, {"keycloak": "y", "google": "y"}, None),
])
def test_web_login_goes_off_only_when_staff_and_clients_keep_a_working_way_in(
        make_app, factories, config, switched, refusal):
    factories.staff(login="boss", password="staff password 1", full_access=True)
    web = browser(make_app(**config), "boss", "staff password 1")
    body = web.post_form(methods_url(), switches(web_login=None, **switched)).get_data(as_text=True)
    if refusal:
        assert f"Keep web login on: {refusal}" in body
    assert auth_methods.switched_on("web_login") is (refusal is not None)


def test_staff_two_factor_needs_totp_for_staff_have_no_phone_for_sms(staff_web):
    body = staff_web.post_form(methods_url(), switches(totp=None, staff_2fa_required="y")).get_data(as_text=True)
    assert "Staff two-factor needs TOTP switched on" in body
    assert auth_methods.switched_on("totp") is True


def test_page_needs_the_function(app, web, factories):
    factories.staff(login="clerk", password="staff password 1")
    web.login("clerk", "staff password 1")
    assert web.get(methods_url()).status_code == 403
    assert web.post_form(methods_url(), switches(), page_url="/admin/").status_code == 403


def test_role_mapping_added_and_removed(staff_web):
    finance = seed_groups()["Finance"]
    db.session.commit()
    page = staff_web.get(methods_url()).get_data(as_text=True)
    assert f'<option value="{finance.id}">Finance</option>' in page  # groups are chosen, not typed
    response = staff_web.post_form(f"{methods_url()}/roles", {"role": "portal-admin", "full_access": "y"},
                                   page_url=methods_url())
    assert response.status_code == 302
    staff_web.post_form(f"{methods_url()}/roles", {"role": "finance", "access_group": str(finance.id)},
                        page_url=methods_url())
    missing = staff_web.post_form(f"{methods_url()}/roles", {"role": "nothing"}, page_url=methods_url())
    assert "Choose Full access or an access group." in missing.get_data(as_text=True)
    unknown = staff_web.post_form(f"{methods_url()}/roles", {"role": "x", "access_group": "999999"},
                                  page_url=methods_url())
    assert "Not a valid choice." in unknown.get_data(as_text=True)
    twice = staff_web.post_form(f"{methods_url()}/roles", {"role": "finance", "full_access": "y"},
                                page_url=methods_url())
    assert 'value="finance"' in twice.get_data(as_text=True)  # kept, with its error beside it
    assert "This role is mapped already; remove it first." in twice.get_data(as_text=True)
    rows = db.session.execute(select(KeycloakRoleMapping).order_by(KeycloakRoleMapping.role)).scalars().all()
    assert [(r.role, r.full_access, r.access_group_id) for r in rows] == [
        ("finance", False, finance.id), ("portal-admin", True, None)]
    staff_web.post_form(f"{methods_url()}/roles/{rows[0].id}/delete", {}, page_url=methods_url())
    assert db.session.execute(select(KeycloakRoleMapping.role)).scalars().all() == ["portal-admin"]
    actions = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert actions.count("keycloak_role_mapped") == 2 and "keycloak_role_unmapped" in actions


def test_personal_data_of_the_methods_is_registered_and_erasable(client_web, client_user):
    enrol_totp(client_web, "client password 1")
    make_token(client_web)
    entries = {entry.name: entry for entry in registered()}
    names = {"second_factor", "recovery_code", "sign_in_code", "temp_key", "oauth_link", "api_token"}
    assert names <= set(entries)
    erased = sum(entries[name].erase([client_user.id]) for name in names)
    db.session.commit()
    assert erased == 1 + 10 + 1


def switch_off(provider_id, *names, **config):
    """Store the switches as the admin page does (audited), with `names` off."""
    values = {**auth_methods.current_values(provider_id), **{name: False for name in names}, **config}
    auth_methods.save_switches(provider_id, values)
    db.session.commit()


def test_switching_api_tokens_off_refuses_every_token_and_their_issue_but_not_authinfo(client_web, client_user, app):
    secret = make_token(client_web)
    switch_off(client_user.provider_id, "api")
    api = app.test_client()
    refused = api.get("/api/v1/whoami", headers=bearer(secret))  # a token issued before the switch
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "method_off"
    assert api.get("/api/v1/whoami", headers=basic("client@example.com", "client password 1")).status_code == 200
    issued = client_web.post_form("/settings/security/api-tokens", {"name": "x", "days": 30, "scopes": ["self.account"]},
                                  page_url="/settings/security")
    assert issued.status_code == 404


def test_switching_authinfo_off_refuses_login_and_password_on_the_api_but_not_tokens(client_web, client_user, app):
    secret = make_token(client_web)
    switch_off(client_user.provider_id, "api_authinfo")
    api = app.test_client()
    refused = api.get("/api/v1/whoami", headers=basic("client@example.com", "client password 1"))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "method_off"
    assert api.get("/api/v1/whoami", headers=bearer(secret)).status_code == 200


def test_web_login_switched_off_hides_the_form_and_refuses_its_post(make_app, factories):
    app = make_app(**SSO_CONFIGURED)
    user = factories.client_user(email="client@example.com", password="client password 1")
    with app.app_context():  # whose configuration has both identity providers
        switch_off(user.provider_id, "web_login", keycloak=True, google=True)
    web = WebClient(app.test_client())
    page = web.get("/login").get_data(as_text=True)
    assert 'name="password"' not in page and "Sign in with Google" in page
    response = web.post_form("/login", {"login": "client@example.com", "password": "client password 1"})
    assert response.status_code == 403
    assert web.get("/home").status_code == 302  # not signed in


def test_web_login_stays_on_while_google_is_switched_on_but_not_configured(make_app, factories):
    config = {key: value for key, value in SSO_CONFIGURED.items() if not key.startswith("GOOGLE")}
    factories.staff(login="boss", password="staff password 1", full_access=True)
    web = browser(make_app(**config), "boss", "staff password 1")
    body = web.post_form(methods_url(), switches(web_login=None, keycloak="y", google="y")).get_data(as_text=True)
    assert "Keep web login on: clients would have no way in" in body
    assert auth_methods.switched_on("web_login") is True


@pytest.fixture
def other_provider():
    provider = Provider(name="Second provider")
    db.session.add(provider)
    db.session.commit()
    return provider


def test_a_switch_of_another_provider_governs_its_users_pages(app, factories, other_provider):
    """Signed-in pages follow the switches of the user's own provider, not the default one's."""
    factories.client_user(email="other@example.com", password="client password 1", provider_id=other_provider.id)
    switch_off(other_provider.id, "totp", "staff_2fa_required")
    web = browser(app, "other@example.com", "client password 1")
    assert web.post_form("/settings/security/totp/begin", {}, page_url="/settings/security").status_code == 404
    assert "Set up an authenticator app" not in web.get("/settings/security").get_data(as_text=True)


def test_a_key_issued_before_its_providers_switch_went_off_is_refused(app, factories, other_provider):
    user = factories.client_user(email="other@example.com", password="client password 1", provider_id=other_provider.id)
    _user, url = temp_keys.issue_key("other@example.com", 15)
    switch_off(other_provider.id, "temp_key")  # the default provider keeps the method on
    web = WebClient(app.test_client())
    assert web.get(url.removeprefix("http://portal.test")).status_code == 302
    body = web.post_form("/login/key", {}).get_data(as_text=True)
    assert "This key is invalid" in body and web.get("/home").status_code == 302
    refused = db.session.execute(select(AuthEvent).where(AuthEvent.event == "temp_key_refused")).scalar_one()
    assert (refused.user_id, refused.detail) == (user.id, "account closed or method off")


def test_the_api_follows_the_switches_of_the_callers_own_provider(app, factories, other_provider):
    """A provider that switches API tokens and authinfo off shuts them for its own users, not for
    the default provider's, whose switches the public pages follow."""
    factories.client_user(email="other@example.com", password="client password 1", provider_id=other_provider.id)
    factories.client_user(email="client@example.com", password="client password 1")
    tokens = {email: make_token(browser(app, email, "client password 1"))
               for email in ("other@example.com", "client@example.com")}
    switch_off(other_provider.id, "api", "api_authinfo")
    api = app.test_client()
    for credentials in (bearer(tokens["other@example.com"]), basic("other@example.com", "client password 1")):
        refused = api.get("/api/v1/whoami", headers=credentials)
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "method_off"
    for credentials in (bearer(tokens["client@example.com"]), basic("client@example.com", "client password 1")):
        assert api.get("/api/v1/whoami", headers=credentials).status_code == 200


def test_password_sign_up_is_off_while_web_login_is(make_app, factories):
    """Sign-up makes a password account: with passwords switched off it would be one nobody can
    sign in to, so the form, its link and a sign-up already waiting for confirmation are gone."""
    app = make_app(**SSO_CONFIGURED)
    user = factories.client_user(email="client@example.com", password="client password 1")
    web = WebClient(app.test_client())
    register(web)
    waiting = link_in("new@example.com")
    with app.app_context():
        switch_off(user.provider_id, "web_login", keycloak=True, google=True)
    assert "Create an account" not in web.get("/login").get_data(as_text=True)
    assert web.get("/register").status_code == 404
    assert web.get(waiting).status_code == 404
    assert web.post_form(waiting, {}, page_url="/login").status_code == 404
    assert db.session.execute(select(User).where(User.email == "new@example.com")).first() is None


def test_a_role_mapping_is_removed_only_through_its_own_provider(staff_web, other_provider):
    """Each provider's page removes its own mappings: another provider's id in the URL finds nothing."""
    staff_web.post_form(f"{methods_url()}/roles", {"role": "portal-admin", "full_access": "y"}, page_url=methods_url())
    mapping = db.session.execute(select(KeycloakRoleMapping)).scalar_one()
    other_page = f"/admin/providers/{other_provider.id}/auth-methods"
    answer = staff_web.post_form(f"{other_page}/roles/{mapping.id}/delete", {}, page_url=other_page)
    assert answer.status_code == 404
    assert db.session.execute(select(KeycloakRoleMapping.role)).scalars().all() == ["portal-admin"]
    assert "keycloak_role_unmapped" not in db.session.execute(select(AuditEvent.action)).scalars().all()
