"""Sign-in methods in a real browser: TOTP enrolment and sign-in, a temporary key, Keycloak as staff
and its role mapping."""

import re
import uuid

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import KeycloakRoleMapping, SecondFactor
from portal.services import auth_methods
from portal.services.access import seed_groups
from portal.services.registration import default_provider
from tests.browser.signin import log_in


def test_totp_enrolment_and_sign_in(live_server, page, factories):
    factories.client_user(email="totp@example.com", password="client password 1")
    server = live_server()
    log_in(page, server, "totp@example.com", "client password 1")
    page.goto(server.url + "/settings/security")
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.get_by_alt_text("QR code for your authenticator app")).to_be_visible()
    secret = page.locator("code.totp-secret").inner_text()
    page.get_by_label("Current password").fill("client password 1")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert page.locator("ul.codes li").count() == 10
    page.get_by_role("button", name="Log out").click()

    log_in(page, server, "totp@example.com", "client password 1")
    expect(page).to_have_url(server.url + "/login/2fa")
    step = db.session.execute(select(SecondFactor.last_step)).scalar_one()
    page.get_by_label("Code").fill(pyotp.TOTP(secret).generate_otp(step + 1))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(server.url + "/home")


@pytest.mark.usefixtures("running_as_root")
def test_temporary_key_sign_in(live_server, page, factories):
    factories.client_user(email="locked-out@example.com", password="client password 1")
    server = live_server()
    with server.app.app_context():  # the CLI prints links with this server's PUBLIC_URL
        result = server.app.test_cli_runner().invoke(args=["temp-key", "locked-out@example.com"])
    assert result.exit_code == 0, result.output
    url = re.search(r"http://\S+/login/key/\S+", result.output).group(0)
    page.goto(url)
    expect(page).to_have_url(server.url + "/login/key")  # the key has left the address bar
    page.get_by_role("button", name="Sign in with this key").click()
    expect(page).to_have_url(server.url + "/home")


def test_keycloak_sign_in_as_staff(live_server, page, oidc):
    provider_id = default_provider().id
    auth_methods.save_switches(provider_id, {**auth_methods.current_values(provider_id), "keycloak": True})
    db.session.add(KeycloakRoleMapping(provider_id=provider_id, role="portal-admin", full_access=True))
    db.session.commit()
    sub = f"kc-{uuid.uuid4().hex[:8]}"
    oidc.add_user(sub, email=f"{sub}@corp.test", name="Kim Keycloak", roles=["portal-admin"], amr=["pwd", "otp"])
    server = live_server(**oidc.app_config("keycloak"))
    page.goto(server.url + "/login")
    page.get_by_role("link", name="Sign in with Keycloak").click()
    page.fill("input[name=sub]", sub)
    page.click("button:has-text('Authorize')")
    expect(page).to_have_url(server.url + "/admin/")
    expect(page.get_by_text(f"Signed in as {sub}")).to_be_visible()


def test_a_role_mapped_to_an_access_group_on_the_page_signs_in_with_that_groups_menu(
        live_server, page, oidc, factories):
    seed_groups()
    provider_id = default_provider().id
    auth_methods.save_switches(provider_id, {**auth_methods.current_values(provider_id), "keycloak": True})
    factories.staff(login="boss", password="staff password 1", full_access=True)
    server = live_server(**oidc.app_config("keycloak"))
    log_in(page, server, "boss", "staff password 1")
    page.goto(server.url + "/admin/providers/auth-methods")
    roles = page.locator("#keycloak-roles")
    expect(roles).to_contain_text("No role is mapped: nobody can sign in with Keycloak.")
    roles.get_by_label("Keycloak role").fill("portal:finance")
    roles.get_by_label("Access group").select_option(label="Finance")
    roles.get_by_role("button", name="Add mapping").click()
    expect(page.get_by_text("Role mapping added.")).to_be_visible()
    expect(page.locator("#keycloak-roles tbody tr")).to_have_text(re.compile(r"portal:finance\s+Access group: Finance"))
    page.get_by_role("button", name="Log out").click()

    sub = f"kc-{uuid.uuid4().hex[:8]}"
    oidc.add_user(sub, email=f"{sub}@corp.test", client_roles={"portal": ["finance"]}, amr=["pwd", "otp"])
    page.goto(server.url + "/login")
    page.get_by_role("link", name="Sign in with Keycloak").click()
    page.fill("input[name=sub]", sub)
    page.click("button:has-text('Authorize')")
    expect(page).to_have_url(server.url + "/admin/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Payments", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Administrators")).to_have_count(0)
