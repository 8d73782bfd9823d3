"""Google sign-in and what Google and Keycloak share, against a real OIDC provider on loopback."""

import base64
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from portal.extensions import db
from portal.models import AuthEvent, OAuthLink, User
from tests.methods_helpers import enrol_totp, next_totp
from tests.oauth_helpers import (
    REFUSED,
    local,
    map_role,
    oauth_login,
    start,
    sub_name,
    switch_on,
    with_query,
)
from tests.outbox import messages, path_in
from tests.servers.oidc import OidcServer
from tests.servers.smtp import free_port
from tests.servers.wsgi import ThreadedWsgiServer
from tests.web import WebClient


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
    notice = messages(to="linker@example.com")[-1]
    assert notice.subject == "Google was linked to your account"
    fresh = WebClient(oidc_app.test_client())
    assert oauth_login(fresh, oidc, "google", sub).headers["Location"] == "/home"
    assert "someone-else@gmail.test" in web.get("/settings/security").get_data(as_text=True)

    unlink = f"/settings/security/linked/{link.id}/unlink"
    for typed, error in (("", "This field is required."), ("not my password", "The current password is not correct.")):
        refused = web.post_form(unlink, {"current_password": typed}, page_url="/settings/security")
        field = f'id="password-settings-security-linked-{link.id}-unlink-error">{error}</p>'
        assert refused.status_code == 200 and field in refused.get_data(as_text=True)  # beside its field
    assert db.session.get(User, user.id).failed_logins == 1  # the wrong one counted, as at linking
    assert db.session.get(OAuthLink, link.id) is not None
    assert web.post_form(unlink, {"current_password": "client password 1"}, page_url="/settings/security").headers[
        "Location"] == "/settings/security#linked-accounts"
    assert db.session.execute(select(OAuthLink).where(OAuthLink.user_id == user.id)).first() is None
    assert [e.event for e in db.session.execute(select(AuthEvent).where(
        AuthEvent.user_id == user.id, AuthEvent.event.like("oauth_%"))).scalars()] == [
        "oauth_link_refused", "oauth_linked", "oauth_unlink_refused", "oauth_unlinked"]
    [unlinked] = messages(to="linker@example.com", subject="Google was unlinked from your account")
    assert "a Google account was unlinked from your account linker@example.com" in unlinked.body
    assert "/recover" in unlinked.body


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
    [mail] = messages(subject="Reset your password")
    path = path_in(mail.body, "/recover/reset/")
    owner.post_form(path, {"password": "violet kettle moon", "confirm": "violet kettle moon"})
    assert db.session.execute(select(OAuthLink).where(OAuthLink.user_id == user.id)).first() is None
    [notice] = messages(subject="Your password was reset")
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
    [notice] = messages(subject="Your password was changed")
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
    answer = web.post_form(f"/settings/security/linked/{link.id}/unlink", {"current_password": "anything at all"},
                           page_url="/settings/security").get_data(as_text=True)
    assert "Set a password first" in answer
    assert db.session.execute(select(OAuthLink)).scalar_one()


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
    response = web.post_form(f"/settings/security/linked/{theirs.id}/unlink", {"current_password": "client password 1"},
                             page_url="/settings/security")
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
