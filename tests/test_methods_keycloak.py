"""Keycloak sign-in for staff against a real OIDC provider on loopback: role mapping and its MFA."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, AuthEvent, KeycloakRoleMapping, OAuthLink, Provider, User
from portal.services import auth_methods, sessions
from portal.services.access import group_names_of, save_group, seed_groups
from portal.services.auth_methods import STAFF_2FA_REQUIRED
from portal.services.registration import default_provider
from tests.access_helpers import browser, staff_with
from tests.api_helpers import basic, bearer, make_token
from tests.methods_helpers import enrol_totp, next_totp
from tests.oauth_helpers import map_role, oauth_login, sub_name
from tests.web import WebClient


def test_keycloak_role_mapping(oidc_app, oidc):
    map_role("portal-admin")
    sub = sub_name("kc")
    oidc.add_user(sub, email=f"{sub}@corp.test", roles=["portal-admin"])
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    assert web.get("/admin/").headers["Location"] == "/settings/security"  # no MFA at Keycloak: enrol here
    staff = db.session.execute(select(User).where(User.login == sub)).scalar_one()
    assert staff.is_staff and staff.full_access and staff.password_hash is None
    created = db.session.execute(select(AuditEvent).where(AuditEvent.action == "admin_created")).scalar_one()
    assert (created.target_id, created.actor_label) == (staff.id, "Keycloak")

    unmapped = sub_name("kc")
    oidc.add_user(unmapped, email=f"{unmapped}@corp.test", roles=["offline_access"])
    other = WebClient(oidc_app.test_client())
    assert oauth_login(other, oidc, "keycloak", unmapped).headers["Location"] == "/login"
    assert db.session.execute(select(User).where(User.login == unmapped)).first() is None

    oidc.add_user(sub, email=f"{sub}@corp.test", roles=["offline_access"])  # role removed in Keycloak
    again = WebClient(oidc_app.test_client())
    assert oauth_login(again, oidc, "keycloak", sub).headers["Location"] == "/login"
    assert again.get("/admin/").status_code == 302
    reasons = db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "oauth_refused")).scalars().all()
    assert reasons == ["keycloak: no mapped role", "keycloak: no mapped role"]


def test_keycloak_client_role_and_group_mapping(oidc_app, oidc):
    seed_groups()
    map_role("portal:finance", full_access=False, group="Finance")
    map_role("portal:sales", full_access=False, group="Sales")
    sub = sub_name("kc")
    oidc.add_user(sub, client_roles={"portal": ["finance", "sales"]}, amr=["pwd", "otp"])
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/admin/"  # MFA done at Keycloak
    staff = db.session.execute(select(User).where(User.login == sub)).scalar_one()
    assert staff.is_staff and not staff.full_access
    assert group_names_of(staff) == ["Finance", "Sales"]
    assert web.get("/admin/").status_code == 200
    assert web.get("/admin/finance/payments").status_code == 200
    assert web.get("/admin/administrators").status_code == 403

    oidc.add_user(sub, client_roles={"portal": ["sales"]}, amr=["pwd", "otp"])  # finance role removed
    again = WebClient(oidc_app.test_client())
    assert oauth_login(again, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    assert group_names_of(db.session.get(User, staff.id)) == ["Sales"]
    assert again.get("/admin/finance/payments").status_code == 403
    applied = db.session.execute(select(AuditEvent).where(AuditEvent.action == "keycloak_roles_applied")
                                 .order_by(AuditEvent.id)).scalars().all()[-1]  # a permission change, audited
    assert (applied.target_id, applied.actor_label, applied.ip) == (staff.id, "Keycloak", "127.0.0.1")
    assert applied.changes == {"access_groups": [["Finance", "Sales"], ["Sales"]]}


def test_a_keycloak_username_with_accents_gives_way_to_the_emails_local_part(oidc_app, oidc):
    """Logins here are ASCII; Keycloak allows "Ünal": the first sign-in takes the email's local part."""
    map_role("portal-admin")
    sub = sub_name("kc")
    oidc.add_user(sub, email="unal.demir@corp.test", roles=["portal-admin"], amr=["pwd", "otp"],
                  preferred_username="Ünal")
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    assert db.session.execute(select(User.login).where(User.email == "unal.demir@corp.test")).scalar_one() \
        == "unal.demir"


def test_a_mapping_follows_its_group_through_a_rename_and_never_to_a_new_group_of_the_old_name(
        oidc_app, oidc, factories):
    groups = seed_groups()
    map_role("portal:finance", full_access=False, group="Finance")
    boss = factories.staff(full_access=True)
    save_group(boss, groups["Finance"], "Accounts", groups["Finance"].description,
                      sorted(groups["Finance"].codes))
    save_group(boss, None, "Finance", "A new group under the old name", ["admins.manage", "logs.audit"])
    db.session.commit()
    sub = sub_name("kc")
    oidc.add_user(sub, client_roles={"portal": ["finance"]}, amr=["pwd", "otp"])
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    staff = db.session.execute(select(User).where(User.login == sub)).scalar_one()
    assert group_names_of(staff) == ["Accounts"]
    assert web.get("/admin/finance/payments").status_code == 200
    assert web.get("/admin/audit-log").status_code == 403


def test_a_browser_signed_in_with_keycloak_mfa_lends_no_second_factor_to_api_authinfo(oidc_app, oidc, factories):
    """The API authenticates by what the request names (authinfo), not by the browser session it
    happens to carry: another staff member's cookie must not let a password alone in."""
    map_role("portal-admin")
    sub = sub_name("kc")
    oidc.add_user(sub, roles=["portal-admin"], amr=["pwd", "otp"])
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    assert web.get("/admin/").status_code == 200  # no enrolment asked: Keycloak did the second factor
    factories.staff(login="colleague", password="staff password 1", staff_2fa=True)
    answer = web.get("/api/v1/whoami", headers=basic("colleague", "staff password 1"))
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "second_factor_required"


def test_role_mapping_needs_an_existing_group(app, factories):
    with pytest.raises(auth_methods.MethodsRefused, match="This access group no longer exists."):
        auth_methods.add_role_mapping(default_provider().id, "portal:nobody", False, 999_999,
                                      factories.staff(full_access=True))
    assert auth_methods.role_mappings(default_provider().id) == []


def test_a_role_mapping_grants_only_what_its_author_could_grant(app, factories):
    """A mapping hands its grant to whoever holds the role, its author included: someone who may
    edit sign-in methods must not map a role they hold to Full access or to a group with functions
    they lack, nor remove a mapping of that kind."""
    finance = seed_groups()["Finance"].codes
    editor = staff_with(factories, "settings.methods", login="methods-editor")
    web = browser(app, "methods-editor")
    page = f"/admin/providers/{default_provider().id}/auth-methods"
    attempts = [({"role": "offline_access", "full_access": "y"}, "Only an administrator with Full access"),
                ({"role": "offline_access", "access_group": str(seed_groups()["Finance"].id)},
                 "You cannot grant what you do not hold")]
    for data, refusal in attempts:
        body = web.post_form(page + "/roles", data, page_url=page).get_data(as_text=True)
        assert refusal in body
    assert auth_methods.role_mappings(default_provider().id) == []

    map_role("portal-admin")
    mapping = auth_methods.role_mappings(default_provider().id)[0]
    removal = web.post_form(f"{page}/roles/{mapping.id}/delete", {}, page_url=page)
    assert "Only an administrator with Full access" in web.get(removal.headers["Location"]).get_data(as_text=True)
    assert [m.role for m in auth_methods.role_mappings(default_provider().id)] == ["portal-admin"]
    assert not db.session.get(User, editor.id).full_access

    staff_with(factories, "settings.methods", *finance, login="finance-lead")
    lead = browser(app, "finance-lead")
    added = lead.post_form(page + "/roles", {"role": "portal:finance", "access_group": str(seed_groups()["Finance"].id)},
                           page_url=page)
    assert added.status_code == 302
    assert {m.role for m in auth_methods.role_mappings(default_provider().id)} == {"portal-admin", "portal:finance"}


def test_a_browser_signed_in_with_keycloak_mfa_lends_nothing_to_another_staff_members_token(oidc_app, oidc, factories):
    """The enrolment gate of a token's owner is theirs alone: a cookie from someone else's sign-in
    through Keycloak's multi-factor, sent along, does not lift it."""
    colleague = factories.staff(login="colleague", password="staff password 1")
    colleague_web = WebClient(oidc_app.test_client())
    colleague_web.login("colleague", "staff password 1")
    secret = make_token(colleague_web, scopes=("self.account",))
    factories.set_setting(STAFF_2FA_REQUIRED, True, colleague.provider_id)
    db.session.commit()
    assert oidc_app.test_client().get("/api/v1/whoami", headers=bearer(secret)).status_code == 403
    map_role("portal-admin")
    sub = sub_name("kc")
    oidc.add_user(sub, roles=["portal-admin"], amr=["pwd", "otp"])
    keycloak_browser = WebClient(oidc_app.test_client())
    assert oauth_login(keycloak_browser, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    answer = keycloak_browser.get("/api/v1/whoami", headers=bearer(secret))
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "staff_2fa"
    assert keycloak_browser.get("/admin/").status_code == 200  # the browser's own sign-in is untouched


def test_keycloak_without_mfa_still_asks_the_portal_second_factor(oidc_app, oidc, factories):
    map_role("portal-admin")
    sub = sub_name("kc")
    oidc.add_user(sub, roles=["portal-admin"], amr=["pwd"])
    web = WebClient(oidc_app.test_client())
    oauth_login(web, oidc, "keycloak", sub)
    staff = db.session.execute(select(User).where(User.login == sub)).scalar_one()
    from portal.services import passwords

    staff.password_hash = passwords.hash_password("staff password 1")  # so they can enrol TOTP
    db.session.commit()
    secret, _codes = enrol_totp(web, "staff password 1")
    sessions.revoke_everything([staff.id])
    db.session.commit()
    browser = WebClient(oidc_app.test_client())
    assert oauth_login(browser, oidc, "keycloak", sub).headers["Location"] == "/login/2fa"
    assert browser.post_form("/login/2fa", {"code": next_totp(secret, staff.id)}).headers["Location"] == "/admin/"


def test_keycloak_acr_1_is_one_factor_and_acr_2_is_two(oidc_app, oidc):
    """Keycloak's acr "1" is a password alone: the portal still asks staff to enrol a second factor."""
    map_role("portal-admin")
    sub = sub_name("kc")
    oidc.add_user(sub, roles=["portal-admin"], amr=["pwd"], acr="1")
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    assert web.get("/admin/").headers["Location"] == "/settings/security"  # enrol here first
    oidc.add_user(sub, roles=["portal-admin"], amr=["pwd"], acr="2")
    again = WebClient(oidc_app.test_client())
    assert oauth_login(again, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    assert again.get("/admin/").status_code == 200


@pytest.mark.parametrize("acr, second_factor", [
    ("urn:example:acr:mfa", True), ("http://schemas.openid.net/pape/policies/2007/06/multi-factor", True),
    ("MFA", True), ("no-mfa", False), ("urn:example:acr:no-mfa", False), ("mfa-optional", False), ("pwd", False)])
def test_a_keycloak_acr_counts_as_a_second_factor_only_when_its_last_part_names_one(oidc_app, oidc, acr,
                                                                                  second_factor):
    map_role("portal-admin")
    sub = sub_name("kc")
    oidc.add_user(sub, roles=["portal-admin"], amr=["pwd"], acr=acr)
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    answer = web.get("/admin/")
    assert (answer.status_code == 200) if second_factor else (answer.headers["Location"] == "/settings/security")


def test_a_role_of_another_keycloak_client_is_not_a_realm_role(oidc_app, oidc):
    """A mapping of the realm role "portal-admin" is not met by a client role of that name in some
    other application's client: client roles count only as "client-id:role"."""
    map_role("portal-admin")
    sub = sub_name("kc")
    oidc.add_user(sub, client_roles={"other-app": ["portal-admin"]}, amr=["pwd", "otp"])
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/login"
    assert db.session.execute(select(User).where(User.login == sub)).first() is None
    assert web.get("/admin/").status_code == 302


def test_full_access_removed_in_keycloak_is_gone_at_the_next_sign_in(oidc_app, oidc):
    seed_groups()
    map_role("portal-admin")
    map_role("portal:sales", full_access=False, group="Sales")
    sub = sub_name("kc")
    oidc.add_user(sub, roles=["portal-admin"], client_roles={"portal": ["sales"]}, amr=["pwd", "otp"])
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "keycloak", sub).headers["Location"] == "/admin/"
    staff = db.session.execute(select(User).where(User.login == sub)).scalar_one()
    assert staff.full_access
    oidc.add_user(sub, client_roles={"portal": ["sales"]}, amr=["pwd", "otp"])  # portal-admin removed
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/admin/"
    staff = db.session.get(User, staff.id)
    assert not staff.full_access and group_names_of(staff) == ["Sales"]
    assert web.get("/admin/administrators").status_code == 403
    applied = db.session.execute(select(AuditEvent).where(AuditEvent.action == "keycloak_roles_applied")
                                 .order_by(AuditEvent.id)).scalars().all()[-1]
    assert applied.changes["full_access"] == [True, False]


def test_a_client_cannot_begin_a_keycloak_link(oidc_app, oidc, factories):
    """Keycloak is for staff: a client's right password does not start a Keycloak link."""
    factories.client_user(email="linker@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("linker@example.com", "client password 1")
    answer = web.post_form("/settings/security/linked/keycloak", {"link_password": "client password 1"},
                           page_url="/settings/security")
    body = answer.get_data(as_text=True)
    assert "Keycloak cannot be linked to this account." in body and "Continue to Keycloak" not in body
    sub = sub_name("kc")
    oidc.add_user(sub, email="linker-kc@corp.test")
    oauth_login(web, oidc, "keycloak", sub)
    assert db.session.execute(select(OAuthLink)).first() is None


def test_a_role_mapped_at_another_provider_grants_nothing_here(oidc_app, oidc):
    """Mappings are per provider: Keycloak staff of the default provider get only its mappings."""
    other = Provider(name="Second provider")
    db.session.add(other)
    db.session.flush()
    db.session.add(KeycloakRoleMapping(provider_id=other.id, role="portal-admin", full_access=True))
    db.session.commit()
    sub = sub_name("kc")
    oidc.add_user(sub, roles=["portal-admin"], amr=["pwd", "otp"])
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "keycloak", sub).headers["Location"] == "/login"
    assert db.session.execute(select(User).where(User.login == sub)).first() is None
    reason = db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "oauth_refused")).scalar_one()
    assert reason == "keycloak: no mapped role"
