"""Google and Keycloak sign-in against a real OIDC provider on loopback (oidc-provider-mock)."""

import base64
import re
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AuthEvent,
    KeycloakRoleMapping,
    OAuthLink,
    OutboxMessage,
    Provider,
    User,
)
from portal.services import auth_methods, sessions
from portal.services.access import group_names_of, save_group, seed_groups
from portal.services.auth_methods import STAFF_2FA_REQUIRED
from portal.services.registration import default_provider
from tests.access_helpers import browser, staff_with
from tests.api_helpers import basic, bearer, make_token
from tests.methods_helpers import enrol_totp, next_totp
from tests.servers.oidc import OidcServer
from tests.servers.smtp import free_port
from tests.servers.wsgi import ThreadedWsgiServer
from tests.web import WebClient

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


def test_google_first_login_registers_a_client_then_signs_in(oidc_app, oidc):
    sub = sub_name()
    oidc.add_user(sub, email=f"{sub}@gmail.test", name="Gina Google")
    web = WebClient(oidc_app.test_client())
    authorize_url = start(web, "google")
    query = dict(parse_qsl(urlsplit(authorize_url).query))
    assert query["code_challenge_method"] == "S256" and query["nonce"] and query["state"]
    response = web.get(local(oidc.authorize(authorize_url, sub)))
    assert response.status_code == 302 and response.headers["Location"] == "/home"
    user = db.session.execute(select(User).where(User.email == f"{sub}@gmail.test")).scalar_one()
    assert user.password_hash is None and not user.is_staff and user.name == "Gina Google"
    link = db.session.execute(select(OAuthLink)).scalar_one()
    assert (link.issuer, link.subject, link.user_id) == (oidc.issuer, sub, user.id)
    again = WebClient(oidc_app.test_client())
    assert oauth_login(again, oidc, "google", sub).headers["Location"] == "/home"
    assert len(db.session.execute(select(User)).all()) == 1


def test_a_provider_that_cannot_be_reached_is_a_message_not_a_500(app, make_app):
    portal = make_app(GOOGLE_CLIENT_ID="portal", GOOGLE_CLIENT_SECRET="secret",
                      GOOGLE_SERVER_METADATA_URL=f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration")
    switch_on()
    web = WebClient(portal.test_client())
    response = web.get("/login/google")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "Sign-in with Google failed. Please try again." in web.get("/login").get_data(as_text=True)
    failure = db.session.execute(select(AuthEvent).where(AuthEvent.event == "oauth_failed")).scalar_one()
    assert failure.detail.startswith("google: ConnectionError")


def test_oversized_claims_are_cut_or_refused_never_a_500(oidc_app, oidc):
    """A provider may send any name or username: the name is cut to what an account holds, and a
    Keycloak username too long for a login refuses the sign-in like any unfit claim."""
    sub = sub_name()
    oidc.add_user(sub, email=f"{sub}@gmail.test", name="G" * 500)
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", sub).headers["Location"] == "/home"
    user = db.session.execute(select(User).where(User.email == f"{sub}@gmail.test")).scalar_one()
    assert user.name == "G" * 200
    map_role("portal-admin")
    long_name = sub_name("kc") + "x" * 120
    oidc.add_user(long_name, email=f"{sub}@corp.test", roles=["portal-admin"])
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "keycloak", long_name).headers["Location"] == "/login"
    refusal = db.session.execute(select(AuthEvent).where(AuthEvent.event == "oauth_refused")).scalar_one()
    assert "A login has 1 to 100 characters." in refusal.detail


def test_tampered_state_is_refused(oidc_app, oidc):
    sub = sub_name()
    oidc.add_user(sub)
    web = WebClient(oidc_app.test_client())
    callback = oidc.authorize(start(web, "google"), sub)
    response = web.get(local(with_query(callback, state="forged")))
    assert response.headers["Location"] == "/login"
    assert "Sign-in with Google failed." in web.get("/login").get_data(as_text=True)
    assert web.get("/home").status_code == 302
    assert db.session.execute(select(User)).first() is None
    assert db.session.execute(select(AuthEvent.event)).scalars().all() == ["oauth_failed"]


def test_callback_from_another_browser_is_refused(oidc_app, oidc):
    sub = sub_name()
    oidc.add_user(sub)
    victim, attacker = WebClient(oidc_app.test_client()), WebClient(oidc_app.test_client())
    callback = oidc.authorize(start(attacker, "google"), sub)
    assert victim.get(local(callback)).headers["Location"] == "/login"  # login CSRF: no state here
    assert victim.get("/home").status_code == 302


def test_wrong_nonce_is_refused(oidc_app, oidc):
    sub = sub_name()
    oidc.add_user(sub)
    web = WebClient(oidc_app.test_client())
    response = oauth_login(web, oidc, "google", sub, nonce="replayed-nonce")
    assert response.headers["Location"] == "/login"
    assert web.get("/home").status_code == 302
    detail = db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "oauth_failed")).scalar_one()
    assert "nonce" in detail


class ProviderInTheMiddle:
    """Serves the real provider's metadata with a different issuer, or a token endpoint that gets
    the ID token issued to another client: what a misconfigured or hostile provider would send."""

    def __init__(self, oidc, issuer=None, audience=None):
        self.oidc, self.issuer, self.audience = oidc, issuer, audience
        self.http = ThreadedWsgiServer(self.app).start()

    def app(self, environ, start_response):
        request = Request(environ)
        if request.path == "/.well-known/openid-configuration":
            metadata = self.oidc.metadata()
            metadata["issuer"] = self.issuer or metadata["issuer"]
            if self.audience:
                metadata["token_endpoint"] = self.http.url + "/token"
            return Response(__import__("json").dumps(metadata), mimetype="application/json")(environ, start_response)
        auth = f"{self.audience}:portal-secret".encode()
        answer = requests.post(self.oidc.metadata()["token_endpoint"], data=request.form, timeout=5,
                               headers={"Authorization": "Basic " + base64.b64encode(auth).decode()})
        return Response(answer.content, answer.status_code, mimetype="application/json")(environ, start_response)

    def config(self, provider):
        prefix = provider.upper()
        return {f"{prefix}_CLIENT_ID": "portal", f"{prefix}_CLIENT_SECRET": "portal-secret",
                f"{prefix}_SERVER_METADATA_URL": self.http.url + "/.well-known/openid-configuration"}


@pytest.mark.parametrize("case", ["issuer", "audience"])
def test_wrong_issuer_or_audience_is_refused(app, make_app, oidc, case):
    middle = ProviderInTheMiddle(oidc, issuer=oidc.issuer + "/realms/other" if case == "issuer" else None,
                                 audience="intruder" if case == "audience" else None)
    try:
        app = make_app(**middle.config("google"))
        switch_on(keycloak=False)
        sub = sub_name()
        oidc.add_user(sub)
        web = WebClient(app.test_client())
        changes = {"client_id": "intruder"} if case == "audience" else {}
        response = oauth_login(web, oidc, "google", sub, **changes)
    finally:
        middle.http.stop()
    assert response.headers["Location"] == "/login"
    assert web.get("/home").status_code == 302
    detail = db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "oauth_failed")).scalar_one()
    assert ("iss" if case == "issuer" else "aud") in detail
    assert db.session.execute(select(User)).first() is None


def test_existing_account_is_not_taken_over(oidc_app, oidc, factories):
    factories.client_user(email="owner@example.com")
    for verified in (False, True):
        sub = sub_name()
        oidc.add_user(sub, email="owner@example.com", email_verified=verified)
        web = WebClient(oidc_app.test_client())
        assert oauth_login(web, oidc, "google", sub).headers["Location"] == "/login"
        assert REFUSED in web.get("/login").get_data(as_text=True)
        assert web.get("/home").status_code == 302
    assert db.session.execute(select(OAuthLink)).first() is None


def test_a_second_identity_with_the_same_email_cannot_join_an_account_linked_there(oidc_app, oidc):
    """An account made by one Google identity is that identity's: another one showing the same
    verified address (a recycled or aliased mailbox) is refused, not added."""
    first, second = sub_name(), sub_name()
    for sub in (first, second):
        oidc.add_user(sub, email="shared@gmail.test")
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", first).headers["Location"] == "/home"
    intruder = WebClient(oidc_app.test_client())
    assert oauth_login(intruder, oidc, "google", second).headers["Location"] == "/login"
    assert [link.subject for link in db.session.execute(select(OAuthLink)).scalars()] == [first]


def test_google_cannot_register_an_email_that_is_a_staff_login(oidc_app, oidc, factories):
    """Sign-in takes a login or an email, so the new client would share a name with the staff."""
    factories.staff(login="ops@gmail.test", email="ops-staff@example.com")
    sub = sub_name()
    oidc.add_user(sub, email="Ops@gmail.test")
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "google", sub).headers["Location"] == "/login"
    assert REFUSED in web.get("/login").get_data(as_text=True)
    assert len(db.session.execute(select(User)).all()) == 1
    refusal = db.session.execute(select(AuthEvent).where(AuthEvent.event == "oauth_refused")).scalar_one()
    assert refusal.detail == "google: login or email taken"


def test_unverified_email_never_registers(oidc_app, oidc):
    sub = sub_name()
    oidc.add_user(sub, email=f"{sub}@example.com", email_verified=False)
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "google", sub).headers["Location"] == "/login"
    assert db.session.execute(select(User)).first() is None


LINK_PASSWORD = "Your password (to link an account)"


def link_google(web, oidc, sub, password="client password 1"):
    """Link from Security settings: the password, then the provider's consent; the final answer."""
    response = web.post_form("/settings/security/linked/google", {"link_password": password},
                             page_url="/settings/security")
    if response.status_code != 200 or "Continue to Google" not in response.get_data(as_text=True):
        return response
    authorize_url = web.get("/login/google").location
    return web.get(local(oidc.authorize(authorize_url, sub)))


def test_link_from_security_settings_after_the_password_then_unlink(oidc_app, oidc, factories):
    user = factories.client_user(email="linker@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("linker@example.com", "client password 1")
    page = web.get("/settings/security").get_data(as_text=True)
    assert "Linked sign-ins" in page and f">{LINK_PASSWORD}</label>" in page
    sub = sub_name()
    oidc.add_user(sub, email="someone-else@gmail.test")

    wrong = link_google(web, oidc, sub, password="not my password")
    assert wrong.status_code == 200 and "The current password is not correct." in wrong.get_data(as_text=True)
    assert db.session.get(User, user.id).failed_logins == 1  # counts toward the lock like a sign-in
    assert link_google(web, oidc, sub).headers["Location"] == "/settings/security#linked-accounts"
    link = db.session.execute(select(OAuthLink)).scalar_one()
    assert link.user_id == user.id
    notice = db.session.execute(select(OutboxMessage).where(OutboxMessage.recipient == "linker@example.com")
                                ).scalars().all()[-1]
    assert notice.subject == "Google was linked to your account"
    fresh = WebClient(oidc_app.test_client())
    assert oauth_login(fresh, oidc, "google", sub).headers["Location"] == "/home"
    assert "someone-else@gmail.test" in web.get("/settings/security").get_data(as_text=True)

    web.post_form(f"/settings/security/linked/{link.id}/unlink", {}, page_url="/settings/security")
    assert db.session.execute(select(OAuthLink).where(OAuthLink.user_id == user.id)).first() is None
    assert [e.event for e in db.session.execute(select(AuthEvent).where(
        AuthEvent.user_id == user.id, AuthEvent.event.like("oauth_%"))).scalars()] == [
        "oauth_link_refused", "oauth_linked", "oauth_unlinked"]


def test_the_password_leads_on_to_the_provider_by_a_page_not_a_redirect(oidc_app, oidc, factories):
    """Browsers apply the CSP's form-action to each redirect after a form's POST, and the policy
    names no provider: the right password answers with a page that moves on by itself (and a
    link), so the provider is reached by a navigation of its own; the policy stays the same."""
    factories.client_user(email="linker@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("linker@example.com", "client password 1")
    base_policy = web.get("/settings/security").headers["Content-Security-Policy"]
    answer = web.post_form("/settings/security/linked/google", {"link_password": "client password 1"},
                           page_url="/settings/security")
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.headers["Content-Security-Policy"] == base_policy
    assert '<meta http-equiv="refresh" content="0; url=/login/google">' in body
    assert '<a class="button primary" href="/login/google">Continue to Google</a>' in body
    assert "form-action 'self';" in base_policy


def test_a_link_that_fails_at_the_provider_comes_back_to_security_settings(oidc_app, oidc, factories):
    """Linking, not signing in: a failure or a refusal is told where the person started."""
    user = factories.client_user(email="linker@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("linker@example.com", "client password 1")
    web.post_form("/settings/security/linked/google", {"link_password": "client password 1"},
                  page_url="/settings/security")
    callback = oidc.authorize(web.get("/login/google").location, sub_name())
    failed = web.get(local(with_query(callback, state="forged")))
    assert failed.headers["Location"] == "/settings/security#linked-accounts"
    assert "Linking Google failed. Please try again." in web.get("/settings/security").get_data(as_text=True)

    taken = sub_name()
    oidc.add_user(taken, email="someone@gmail.test")
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", taken).headers["Location"] == "/home"
    refused = link_google(web, oidc, taken)  # that identity already signs in to another account
    assert refused.headers["Location"] == "/settings/security#linked-accounts"
    assert "link Google in Security settings" in web.get("/settings/security").get_data(as_text=True)
    assert db.session.execute(select(OAuthLink).where(OAuthLink.user_id == user.id)).first() is None


def test_a_session_alone_cannot_link_and_the_callback_links_only_what_the_password_began(oidc_app, oidc, factories):
    """A stolen or unattended session has no password to give: no link, and a callback with no
    link begun in this browser is an ordinary sign-in of the provider's account, never a link."""
    user = factories.client_user(email="victim@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("victim@example.com", "client password 1")
    assert web.post_form("/login/google/link", {}, page_url="/settings/security").status_code in (404, 405)
    empty = web.post_form("/settings/security/linked/google", {}, page_url="/settings/security")
    assert "This field is required." in empty.get_data(as_text=True)
    sub = sub_name()
    oidc.add_user(sub, email="thief@gmail.test")
    oauth_login(web, oidc, "google", sub)
    assert db.session.execute(select(OAuthLink).where(OAuthLink.user_id == user.id)).first() is None


def signed_in_with_google_linked(oidc_app, oidc, factories, email, google_email):
    """A client user signed in on a fresh browser, Google linked: (user, browser, Google sub)."""
    user = factories.client_user(email=email)
    web = WebClient(oidc_app.test_client())
    web.login(email, "client password 1")
    sub = sub_name()
    oidc.add_user(sub, email=google_email)
    link_google(web, oidc, sub)
    return user, web, sub


def test_a_password_reset_removes_every_linked_sign_in(oidc_app, oidc, factories):
    user, _, sub = signed_in_with_google_linked(oidc_app, oidc, factories, "owner@example.com", "attacker@gmail.test")
    owner = WebClient(oidc_app.test_client())
    owner.post_form("/recover", {"login": "owner@example.com", "channel": "email"})
    mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.subject == "Reset your password")).scalar_one()
    path = re.search(r"http://portal\.test(/recover/reset/\S+)", mail.body).group(1)
    owner.post_form(path, {"password": "violet kettle moon", "confirm": "violet kettle moon"})
    assert db.session.execute(select(OAuthLink).where(OAuthLink.user_id == user.id)).first() is None
    notice = db.session.execute(select(OutboxMessage).where(OutboxMessage.subject == "Your password was reset")
                                ).scalar_one()
    assert "Linked Google or Keycloak sign-ins were removed" in notice.body
    attacker = WebClient(oidc_app.test_client())
    oauth_login(attacker, oidc, "google", sub)  # now an account of its own, not the owner's
    assert attacker.get("/settings/general").get_data(as_text=True).count("owner@example.com") == 0


def test_a_password_change_keeps_the_linked_sign_ins(oidc_app, oidc, factories):
    user, web, sub = signed_in_with_google_linked(oidc_app, oidc, factories, "keeper@example.com", "keeper@gmail.test")
    web.post_form("/settings/general/password", {"current_password": "client password 1",
                                                 "password": "violet kettle moon", "confirm": "violet kettle moon"},
                  page_url="/settings/general")
    assert db.session.execute(select(OAuthLink.user_id)).scalars().all() == [user.id]
    notice = db.session.execute(select(OutboxMessage).where(OutboxMessage.subject == "Your password was changed")
                                ).scalar_one()
    assert "Linked Google or Keycloak sign-ins" not in notice.body
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", sub).headers["Location"] == "/home"


def test_an_account_without_a_password_keeps_its_last_linked_sign_in(oidc_app, oidc):
    sub = sub_name()
    oidc.add_user(sub, email=f"{sub}@gmail.test")
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "google", sub).headers["Location"] == "/home"
    link = db.session.execute(select(OAuthLink)).scalar_one()
    page = web.get("/settings/security").get_data(as_text=True)
    assert LINK_PASSWORD in page  # offered, and refused with a way forward:
    refused = web.post_form("/settings/security/linked/google", {"link_password": "anything at all"},
                            page_url="/settings/security").get_data(as_text=True)
    assert "Set a password first" in refused
    answer = web.post_form(f"/settings/security/linked/{link.id}/unlink", {}, page_url="/settings/security",
                           follow_redirects=True).get_data(as_text=True)
    assert "This is your only way to sign in." in answer
    assert db.session.execute(select(OAuthLink)).scalar_one()


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


def test_switched_off_providers_answer_404(app, make_app, oidc):
    google_app = make_app(**oidc.app_config("google"))
    web = WebClient(google_app.test_client())
    assert web.get("/login/google").status_code == 404
    assert web.get("/login/keycloak/callback").status_code == 404
    assert "Sign in with Google" not in web.get("/login").get_data(as_text=True)
    switch_on(keycloak=False)
    assert "Sign in with Google" in web.get("/login").get_data(as_text=True)


def test_each_provider_opens_only_its_own_area(oidc_app, oidc, factories):
    """Google is for clients and Keycloak for staff, even where an email would match an account
    still waiting for its first way in: an invited administrator, a client made by Google."""
    map_role("portal-admin")
    factories.staff(login="invited", email="invited@corp.test", password=None)
    by_google = sub_name()
    oidc.add_user(by_google, email="invited@corp.test")
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "google", by_google).headers["Location"] == "/login"
    assert web.get("/admin/").status_code == 302

    client_sub = sub_name()
    oidc.add_user(client_sub, email="gina@gmail.test")
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", client_sub).headers["Location"] == "/home"
    by_keycloak = sub_name("kc")
    oidc.add_user(by_keycloak, email="gina@gmail.test", roles=["portal-admin"])
    other = WebClient(oidc_app.test_client())
    assert oauth_login(other, oidc, "keycloak", by_keycloak).headers["Location"] == "/login"
    gina = db.session.execute(select(User).where(User.email == "gina@gmail.test")).scalar_one()
    assert not gina.full_access and other.get("/home").status_code == 302
    assert [link.subject for link in db.session.execute(select(OAuthLink)).scalars()] == [client_sub]
    reasons = db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "oauth_refused")).scalars().all()
    assert len(reasons) == 2 and reasons[0] == "google: account closed or of the other area"


def test_deny_access_stops_google_and_keycloak_sign_in(oidc_app, oidc, factories):
    map_role("portal-admin")
    client_sub, staff_sub = sub_name(), sub_name("kc")
    oidc.add_user(client_sub, email="gina@gmail.test")
    oidc.add_user(staff_sub, email=f"{staff_sub}@corp.test", roles=["portal-admin"])
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", client_sub).headers["Location"] == "/home"
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "keycloak", staff_sub).headers["Location"] == "/admin/"
    for user in db.session.execute(select(User)).scalars():
        user.access_denied = True
    db.session.commit()
    for provider, sub in (("google", client_sub), ("keycloak", staff_sub)):
        web = WebClient(oidc_app.test_client())
        assert oauth_login(web, oidc, provider, sub).headers["Location"] == "/login", provider
        assert REFUSED in web.get("/login").get_data(as_text=True)
    logins = db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "oauth_refused")).scalars().all()
    assert logins == ["google: account closed or of the other area", "keycloak: account closed or of the other area"]


def test_nobody_unlinks_someone_elses_sign_in(oidc_app, oidc, factories):
    """An account without a password that lost its only link would have no way in left."""
    sub = sub_name()
    oidc.add_user(sub, email="gina@gmail.test")
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", sub).headers["Location"] == "/home"
    theirs = db.session.execute(select(OAuthLink)).scalar_one()
    factories.client_user(email="mallory@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("mallory@example.com", "client password 1")
    response = web.post_form(f"/settings/security/linked/{theirs.id}/unlink", {}, page_url="/settings/security")
    assert response.status_code == 404
    assert db.session.get(OAuthLink, theirs.id) is not None
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", sub).headers["Location"] == "/home"


def test_links_are_per_issuer_so_a_subject_at_another_provider_is_someone_else(app, make_app, oidc):
    """An account is linked by (issuer, subject), never by subject alone: the same `sub` sent by
    another issuer (Google pointed at another provider, a second realm) opens nothing of the first's."""
    sub = sub_name()
    oidc.add_user(sub, email=f"{sub}@gmail.test")
    first = make_app(**oidc.app_config("google"))
    switch_on(keycloak=False)
    assert oauth_login(WebClient(first.test_client()), oidc, "google", sub).headers["Location"] == "/home"
    owner = db.session.execute(select(User).where(User.email == f"{sub}@gmail.test")).scalar_one()
    elsewhere = OidcServer().start()
    try:
        elsewhere.add_user(sub, email=f"{sub}@elsewhere.test")
        web = WebClient(make_app(**elsewhere.app_config("google")).test_client())
        assert oauth_login(web, elsewhere, "google", sub).headers["Location"] == "/home"
    finally:
        elsewhere.stop()
    page = web.get("/settings/general").get_data(as_text=True)
    assert f"{sub}@elsewhere.test" in page and f"{sub}@gmail.test" not in page
    links = {(link.issuer, link.user_id) for link in db.session.execute(select(OAuthLink)).scalars()}
    assert len(links) == 2 and (oidc.issuer, owner.id) in links
    assert all(user_id != owner.id for issuer, user_id in links if issuer != oidc.issuer)


def test_only_a_boolean_true_email_verified_registers(oidc_app, oidc):
    """A provider answering "false" as a string has not verified the address: no account."""
    sub = sub_name()
    oidc.add_user(sub, email=f"{sub}@gmail.test", email_verified="false")
    web = WebClient(oidc_app.test_client())
    assert oauth_login(web, oidc, "google", sub).headers["Location"] == "/login"
    assert db.session.execute(select(User)).first() is None
    refusal = db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "oauth_refused")).scalar_one()
    assert refusal == "google: no verified email"


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


def test_google_switched_off_cannot_be_linked(oidc_app, factories):
    factories.client_user(email="linker@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("linker@example.com", "client password 1")
    switch_on(google=False)
    body = web.post_form("/settings/security/linked/google", {"link_password": "client password 1"},
                         page_url="/settings/security").get_data(as_text=True)
    assert "Continue to Google" not in body and 'content="0; url=/login/google"' not in body


def test_one_password_begins_one_link(oidc_app, oidc, factories):
    """The link the password began is finished once: a later round with the provider in the same
    browser is a sign-in of that identity, never a second link to this account."""
    user = factories.client_user(email="linker@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("linker@example.com", "client password 1")
    first, second = sub_name(), sub_name()
    oidc.add_user(first, email=f"{first}@gmail.test")
    oidc.add_user(second, email=f"{second}@gmail.test")
    assert link_google(web, oidc, first).headers["Location"] == "/settings/security#linked-accounts"
    oauth_login(web, oidc, "google", second)
    assert [link.subject for link in db.session.execute(
        select(OAuthLink).where(OAuthLink.user_id == user.id)).scalars()] == [first]


def test_a_clients_google_mfa_does_not_replace_the_portals_second_factor(oidc_app, oidc, factories):
    """Only Keycloak (the staff's own identity provider) is trusted for multi-factor: a client with
    an authenticator app is asked for its code after Google, whatever Google's amr says."""
    user = factories.client_user(email="linker@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("linker@example.com", "client password 1")
    sub = sub_name()
    oidc.add_user(sub, email=f"{sub}@gmail.test", amr=["pwd", "mfa"], acr="2")
    link_google(web, oidc, sub)
    secret, _codes = enrol_totp(web, "client password 1")
    signing_in = WebClient(oidc_app.test_client())
    assert oauth_login(signing_in, oidc, "google", sub).headers["Location"] == "/login/2fa"
    assert signing_in.get("/home").status_code == 302
    assert signing_in.post_form("/login/2fa", {"code": next_totp(secret, user.id)}).headers["Location"] == "/home"


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


def test_an_account_opened_by_a_provider_is_logged_as_registered(oidc_app, oidc):
    map_role("portal-admin")
    client_sub, staff_sub = sub_name(), sub_name("kc")
    oidc.add_user(client_sub, email=f"{client_sub}@gmail.test")
    oidc.add_user(staff_sub, roles=["portal-admin"], amr=["pwd", "otp"])
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", client_sub).headers["Location"] == "/home"
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "keycloak", staff_sub).headers["Location"] == "/admin/"
    registered = db.session.execute(select(AuthEvent).where(AuthEvent.event == "registered")
                                    .order_by(AuthEvent.id)).scalars().all()
    users = [db.session.execute(select(User.id).where(User.email == email)).scalar_one()
             for email in (f"{client_sub}@gmail.test", f"{staff_sub}@example.com")]
    assert [(e.user_id, e.detail, e.ip) for e in registered] == [(users[0], "google", "127.0.0.1"),
                                                                  (users[1], "keycloak", "127.0.0.1")]


def test_the_linked_sign_ins_card_shows_when_a_link_was_last_used(oidc_app, oidc, factories):
    """The owner spots a link in use they did not expect: its last use is on the card."""
    factories.client_user(email="linker@example.com")
    web = WebClient(oidc_app.test_client())
    web.login("linker@example.com", "client password 1")
    sub = sub_name()
    oidc.add_user(sub, email=f"{sub}@gmail.test")
    link_google(web, oidc, sub)
    assert oauth_login(WebClient(oidc_app.test_client()), oidc, "google", sub).headers["Location"] == "/home"
    link = db.session.execute(select(OAuthLink)).scalar_one()
    assert link.last_login_at is not None
    row = re.search(r"<td>Google</td>.*?</tr>", web.get("/settings/security").get_data(as_text=True), re.S).group(0)
    assert "Never" not in row and link.last_login_at.strftime("%Y-%m-%d %H:%M UTC") in row
