"""The API: tokens (scopes, expiry, revocation, last use), authinfo, no cookie auth, orders, Deny access."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    ApiToken,
    AuditEvent,
    AuthEvent,
    Order,
    ProductType,
    Tariff,
    User,
    UserSession,
)
from portal.models.base import utcnow
from portal.services import api_tokens, gdpr, reauth, sessions
from portal.services.auth_methods import STAFF_2FA_REQUIRED
from tests.api_helpers import basic, bearer, make_token
from tests.fraud_support import MOBILE_GB, make_catalog, protect
from tests.methods_helpers import enrol_totp
from tests.outbox import messages
from tests.web import WebClient

PASSWORD = "client password 1"


def tariff():
    product = ProductType(name="Hosting")
    product.tariffs = [Tariff(name="Lite", price=Decimal("3.00"))]
    db.session.add(product)
    db.session.commit()
    return product.tariffs[0]


def test_token_shown_once_stored_hashed_and_last_use_recorded(client_web, client_user):
    secret = make_token(client_web)
    assert secret not in client_web.get("/settings/security").get_data(as_text=True)
    row = db.session.execute(select(ApiToken)).scalar_one()
    assert row.token_hash != secret and secret not in row.token_hash and row.last_used_at is None
    fresh = client_web.application.test_client()
    response = fresh.get("/api/v1/whoami", headers=bearer(secret))
    assert response.status_code == 200
    assert response.get_json()["login"] == "client@example.com" and response.get_json()["auth"] == "token"
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None


def test_scopes_no_wider_than_the_owner(client_web, factories, app):
    refused = client_web.post_form("/settings/security/api-tokens",
                                   {"name": "x", "days": 30, "scopes": ["admins.manage"]},
                                   page_url="/settings/security")
    assert "not a valid choice" in refused.get_data(as_text=True)
    secret = make_token(client_web, scopes=("self.account",))
    api = app.test_client()
    assert api.get("/api/v1/whoami", headers=bearer(secret)).status_code == 200
    response = api.get("/api/v1/orders", headers=bearer(secret))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "scope"


def test_a_token_of_zero_days_is_out_of_range_not_missing(client_web):
    refused = client_web.post_form("/settings/security/api-tokens",
                                   {"name": "x", "days": 0, "scopes": ["self.account"],
                                    "token_password": "client password 1"},
                                   page_url="/settings/security")
    body = refused.get_data(as_text=True)
    assert "Number must be between 1 and 365." in body and "This field is required." not in body
    assert db.session.execute(select(ApiToken)).first() is None


def test_a_token_needs_the_owners_password_and_the_owner_is_told(client_web, client_user):
    """A token outlives the session that made it: a session alone, stolen or left open, mints none."""
    typed = {"name": "deploy", "days": 30, "scopes": ["self.account"]}
    for password, message in (("", "This field is required."), ("guess", "The current password is not correct.")):
        refused = client_web.post_form("/settings/security/api-tokens", {**typed, "token_password": password},
                                       page_url="/settings/security")
        body = refused.get_data(as_text=True)
        assert f'<p class="error" id="token_password-error">{message}</p>' in body, password
        assert 'value="deploy"' in body and 'value="guess"' not in body
    assert db.session.execute(select(ApiToken)).first() is None
    assert db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "api_token_refused")
                              ).scalars().all() == ["wrong current password"]
    assert messages(subject="A new API token was created on your account") == []

    make_token(client_web, name="deploy", scopes=("self.account",))
    [notice] = messages(to="client@example.com", subject="A new API token was created on your account")
    assert "an API token was created" in notice.body and "from the address 127.0.0.1" in notice.body
    assert "/settings/security" in notice.body and "pt_" not in notice.body


def test_an_account_without_a_password_is_told_to_set_one_before_a_token(factories):
    """Signed in through Google or Keycloak only: nothing to confirm with, and no guess counted."""
    user = factories.client_user(email="google-only@example.com")
    user.password_hash = None
    db.session.commit()
    with pytest.raises(reauth.NoPasswordYet, match="Set a password first"):
        api_tokens.create_token(user, "x", 30, ["self.account"], "anything")
    assert db.session.execute(select(AuthEvent)).first() is None
    assert db.session.execute(select(ApiToken)).first() is None


def test_expired_and_revoked_tokens_refused(client_web, app):
    secret = make_token(client_web)
    row = db.session.execute(select(ApiToken)).scalar_one()
    api = app.test_client()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert api.get("/api/v1/whoami", headers=bearer(secret)).get_json()["error"]["code"] == "invalid_token"
    second = make_token(client_web, name="second")
    assert api.get("/api/v1/whoami", headers=bearer(second)).status_code == 200
    second_row = db.session.execute(select(ApiToken).where(ApiToken.name == "second")).scalar_one()
    client_web.post_form(f"/settings/security/api-tokens/{second_row.id}/revoke", {}, page_url="/settings/security")
    assert api.get("/api/v1/whoami", headers=bearer(second)).status_code == 401


def test_session_cookie_alone_never_authenticates(client_web):
    assert client_web.get("/home").status_code == 200
    response = client_web.get("/api/v1/whoami")
    assert response.status_code == 401 and response.is_json


def test_authinfo_in_basic_or_body_never_query(app, client_user):
    api = app.test_client()
    assert api.get("/api/v1/whoami", headers=basic("client@example.com", PASSWORD)).get_json()["auth"] == "authinfo"
    body = api.post("/api/v1/orders", data={"authinfo": f"client@example.com:{PASSWORD}", "tariff_id": "999"})
    assert body.status_code == 404 and body.get_json()["error"]["code"] == "unknown_tariff"
    query = api.get(f"/api/v1/whoami?authinfo=client@example.com:{PASSWORD}")
    assert query.status_code == 400 and query.get_json()["error"]["code"] == "credentials_in_query"
    wrong = api.get("/api/v1/whoami", headers=basic("client@example.com", "wrong"))
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "invalid_credentials"


def test_authinfo_shares_the_login_counter(make_app, factories):
    factories.client_user(email="busy@example.com")
    app = make_app(RATELIMIT_LOGIN_PER_ACCOUNT="3 per minute")
    api = app.test_client()
    statuses = [api.get("/api/v1/whoami", headers=basic("busy@example.com", "wrong")).status_code for _ in range(2)]
    form = WebClient(app.test_client()).post_form("/login", {"login": "busy@example.com", "password": "wrong"})
    statuses.append(form.status_code)
    statuses.append(api.get("/api/v1/whoami", headers=basic("busy@example.com", PASSWORD)).status_code)
    assert statuses == [401, 401, 200, 429]


def test_authinfo_refused_for_two_factor_accounts(client_web, app):
    enrol_totp(client_web, PASSWORD)
    response = app.test_client().get("/api/v1/whoami", headers=basic("client@example.com", PASSWORD))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "second_factor_required"
    assert app.test_client().get("/api/v1/whoami", headers=bearer(make_token(client_web))).status_code == 200


def test_authinfo_refused_for_staff_who_must_still_enrol(app, factories):
    """Required and not set up yet is no less required: a password alone does not open the API."""
    factories.staff(login="chief", password="staff password 1", full_access=True, staff_2fa=True)
    response = app.test_client().get("/api/v1/whoami", headers=basic("chief", "staff password 1"))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "second_factor_required"


def test_a_token_meets_the_staff_enrolment_gate(staff_web, staff_user, factories, app):
    """A token made before staff 2FA was required opens nothing until its owner enrols."""
    secret = make_token(staff_web, scopes=("self.account",))
    factories.set_setting(STAFF_2FA_REQUIRED, True, staff_user.provider_id)
    db.session.commit()
    response = app.test_client().get("/api/v1/whoami", headers=bearer(secret))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "staff_2fa"


def test_orders_list_and_create(client_web, client_user, app):
    secret = make_token(client_web)
    plan = tariff()
    api = app.test_client()
    created = api.post("/api/v1/orders", json={"tariff_id": plan.id}, headers=bearer(secret))
    assert created.status_code == 201 and created.get_json()["tariff"] == "Lite"
    listed = api.get("/api/v1/orders", headers=bearer(secret)).get_json()["orders"]
    assert [o["id"] for o in listed] == [created.get_json()["id"]]
    assert db.session.execute(select(Order.user_id)).scalar_one() == client_user.id
    for odd in ("x", "²", True, 2**31, -1, 1.5, None):  # "²".isdigit() is True
        bad = api.post("/api/v1/orders", json={"tariff_id": odd}, headers=bearer(secret))
        assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_tariff_id", odd


def test_credentials_no_column_can_hold_are_a_bad_request(app, client_user):
    """A NUL byte (PostgreSQL refuses it) or a lone surrogate (not UTF-8), however it is sent."""
    api = app.test_client()
    for login in ("client@example.com\x00", "client@example.com\ud800"):
        as_json = api.post("/api/v1/orders", json={"authinfo": f"{login}:{PASSWORD}", "tariff_id": 1})
        assert as_json.status_code == 400 and as_json.is_json, login
    assert api.get("/api/v1/whoami", headers=basic("client\x00@example.com", PASSWORD)).status_code == 400
    assert api.post("/api/v1/orders", json={"nested": [{"deep": "\x00"}]}).status_code == 400


def test_staff_order_refusal_is_json_with_its_code(staff_user, app):
    plan = tariff()
    response = app.test_client().post("/api/v1/orders", json={"tariff_id": plan.id},
                                      headers=basic("boss", "staff password 1"))
    assert response.status_code == 403  # staff do not hold client.order
    assert response.get_json()["error"]["code"] == "http_403"


def test_deny_access_on_an_administrator_revokes_everything(staff_web, staff_user, factories, app):
    target = factories.staff(login="temp", password="staff password 1")
    target_token = make_token(signed_in(app, "temp"), scopes=("self.account",))
    secret = make_token(staff_web, scopes=("self.account", "admins.manage"))
    api = app.test_client()
    response = api.post(f"/api/v1/administrators/{target.id}/deny-access", json={"deny": True},
                        headers=bearer(secret))
    assert response.status_code == 200 and response.get_json()["access_denied"] is True
    live = db.session.execute(select(UserSession).where(UserSession.user_id == target.id,
                                                         UserSession.revoked_at.is_(None))).all()
    assert live == []
    assert api.get("/api/v1/whoami", headers=bearer(target_token)).status_code == 401
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "access_denied")).scalar_one()
    assert audit.actor_id == staff_user.id and audit.changes == {"access_denied": [False, True]}
    itself = api.post(f"/api/v1/administrators/{staff_user.id}/deny-access", json={"deny": True},
                      headers=bearer(secret))
    assert itself.status_code == 422 and itself.get_json()["error"]["code"] == "access_refused"


@pytest.mark.parametrize("body", [
    {"data": '{"deny": false,}', "content_type": "application/json"},  # a trailing comma: not JSON
    {"data": '{"deny": false}', "content_type": "text/plain"},
    {"json": [{"deny": False}]},
    {"data": "null", "content_type": "application/json"},
    {"json": {}},
])
def test_a_body_that_does_not_say_deny_or_restore_changes_nothing(staff_web, factories, app, body):
    """Read as empty, a broken body once fell back to "deny": a script restoring someone denied them."""
    target = factories.staff(login="temp", password="staff password 1")
    secret = make_token(staff_web, scopes=("self.account", "admins.manage"))
    response = app.test_client().post(f"/api/v1/administrators/{target.id}/deny-access",
                                      headers=bearer(secret), **body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] in ("bad_body", "bad_deny")
    assert db.session.get(User, target.id).access_denied is False


@pytest.mark.parametrize("method, url", [("POST", "/api/v1/orders"), ("GET", "/api/v1/whoami"),
                                         ("GET", "/login"), ("GET", "/nonexistent")])
def test_json_nested_too_deep_to_read_is_a_bad_request_anywhere(app, method, url):
    for depth in (600, 2000):  # deeper than the walk of its strings once went, then than the parser goes
        response = app.test_client().open(url, method=method, data="[" * depth + "]" * depth,
                                          content_type="application/json")
        assert response.status_code < 500, (depth, response.status_code)


def test_a_body_over_a_megabyte_is_refused_before_it_is_read(app):
    response = app.test_client().post("/api/v1/orders", data="x" * (1024 * 1024 + 1), content_type="text/plain")
    assert response.status_code == 413 and response.get_json()["error"]["message"] == "This request is too large."


def signed_in(app, login):
    web = WebClient(app.test_client())
    web.login(login, "staff password 1")
    return web


def test_deny_access_needs_the_function(factories, app, client_web):
    target = factories.staff(login="other")
    secret = make_token(client_web, scopes=("self.account",))
    response = app.test_client().post(f"/api/v1/administrators/{target.id}/deny-access", json={},
                                      headers=bearer(secret))
    assert response.status_code == 403


def test_revoke_everything_kills_tokens(client_web, client_user, app):
    secret = make_token(client_web)
    sessions.revoke_everything([client_user.id])
    db.session.commit()
    assert app.test_client().get("/api/v1/whoami", headers=bearer(secret)).status_code == 401
    assert client_web.get("/home").status_code == 302


def test_ids_beyond_a_database_integer_are_404_not_500(staff_web, app):
    secret = make_token(staff_web, scopes=("self.account", "admins.manage"))
    response = app.test_client().post("/api/v1/administrators/99999999999999999999/deny-access", json={"deny": True},
                                      headers=bearer(secret))
    assert response.status_code == 404 and response.is_json
    assert staff_web.get("/admin/providers/99999999999999999999/auth-methods").status_code == 404


def test_a_remember_cookie_alone_never_authenticates(app, client_user):
    """The browser's remember cookie reaches /api/ too (its path is /): it must lend the API nothing,
    or a page elsewhere could order in the user's name with a plain form post."""
    web = WebClient(app.test_client())
    web.login("client@example.com", PASSWORD, remember=True)
    web.delete_cookie("portal_session")  # a browser restarted: only the remember cookie is left
    assert web.get("/home").status_code == 200  # the remember cookie itself works in the client area
    web.delete_cookie("portal_session")
    plan = tariff()
    for response in (web.get("/api/v1/whoami"), web.post("/api/v1/orders", data={"tariff_id": plan.id})):
        assert response.status_code == 401 and response.is_json
    assert db.session.execute(select(Order)).first() is None


def test_a_user_cannot_revoke_someone_elses_token(client_web, factories, app):
    factories.client_user(email="other@example.com", password=PASSWORD)
    other_web = WebClient(app.test_client())
    other_web.login("other@example.com", PASSWORD)
    others = make_token(other_web, name="theirs")
    row = db.session.execute(select(ApiToken).where(ApiToken.name == "theirs")).scalar_one()
    response = client_web.post_form(f"/settings/security/api-tokens/{row.id}/revoke", {},
                                    page_url="/settings/security")
    assert response.status_code == 404
    assert db.session.get(ApiToken, row.id).revoked_at is None
    assert app.test_client().get("/api/v1/whoami", headers=bearer(others)).status_code == 200


def test_a_token_is_refused_the_moment_its_account_is_closed(client_web, client_user, staff_user, app):
    """Clear data deactivates at once and revokes batch by batch: no batch has run yet here."""
    secret = make_token(client_web)
    api = app.test_client()
    assert api.get("/api/v1/whoami", headers=bearer(secret)).status_code == 200
    gdpr.start(client_user.client, staff_user, "staff password 1", client_user.client.name)
    assert db.session.execute(select(ApiToken.revoked_at)).scalar_one() is None  # not revoked yet
    refused = api.get("/api/v1/whoami", headers=bearer(secret))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "invalid_token"


def test_token_answers_are_not_stored(app, client_web):
    """An API answer is a signed-in answer: no-store, even when the request carries no cookie."""
    secret = make_token(client_web)
    response = app.test_client().get("/api/v1/whoami", headers=bearer(secret))
    assert response.status_code == 200 and "no-store" in response.headers.get("Cache-Control", "")


def test_authinfo_is_throttled_per_address_whatever_the_login(make_app, factories):
    """authinfo is a credential check: one address trying many logins meets the per-IP limit too."""
    app = make_app(RATELIMIT_LOGIN_PER_IP="2 per minute")
    api = app.test_client()
    statuses = [api.get("/api/v1/whoami", headers=basic(f"guess{n}@example.com", "wrong")).status_code
                for n in range(3)]
    assert statuses == [401, 401, 429]


def test_api_order_of_a_covered_service_needs_a_verified_phone(client_web, client_user, app):
    """The API's create_order is one of the ordering routes: fraud protection refuses it there too."""
    tariffs = make_catalog()
    protect()
    secret = make_token(client_web)
    api = app.test_client()
    for key in ("vps", "e3"):  # covered by its type, covered as a single tariff
        refused = api.post("/api/v1/orders", json={"tariff_id": tariffs[key]}, headers=bearer(secret))
        assert refused.status_code == 422, key
        assert refused.get_json()["error"]["code"] == "phone_verification_required"
    assert db.session.execute(select(Order)).first() is None
    free = api.post("/api/v1/orders", json={"tariff_id": tariffs["gold"]}, headers=bearer(secret))
    assert free.status_code == 201
    user = db.session.get(User, client_user.id)
    user.phone, user.phone_verified_at = MOBILE_GB, utcnow()
    db.session.commit()
    assert api.post("/api/v1/orders", json={"tariff_id": tariffs["vps"]}, headers=bearer(secret)).status_code == 201


def test_a_token_lives_the_days_chosen_and_not_a_day_more(client_web):
    before = utcnow()
    make_token(client_web, days=7)
    after = utcnow()
    row = db.session.execute(select(ApiToken)).scalar_one()
    assert before + timedelta(days=7) <= row.expires_at <= after + timedelta(days=7)


def test_creating_and_revoking_a_token_are_in_the_auth_log(client_web, client_user):
    make_token(client_web, name="deploy")
    row = db.session.execute(select(ApiToken)).scalar_one()
    client_web.post_form(f"/settings/security/api-tokens/{row.id}/revoke", {}, page_url="/settings/security")
    events = db.session.execute(select(AuthEvent.event, AuthEvent.user_id, AuthEvent.detail).where(
        AuthEvent.event.like("api_token_%")).order_by(AuthEvent.id)).all()
    assert [tuple(e) for e in events] == [("api_token_created", client_user.id, f"token {row.id}: deploy"),
                                          ("api_token_revoked", client_user.id, f"token {row.id}: deploy")]


def test_a_revoked_token_leaves_the_list_and_cannot_be_revoked_twice(client_web):
    make_token(client_web, name="old-deploy")
    row = db.session.execute(select(ApiToken)).scalar_one()
    url = f"/settings/security/api-tokens/{row.id}/revoke"
    client_web.post_form(url, {}, page_url="/settings/security")
    revoked_at = db.session.get(ApiToken, row.id).revoked_at
    assert "old-deploy" not in client_web.get("/settings/security").get_data(as_text=True)
    assert client_web.post_form(url, {}, page_url="/settings/security").status_code == 404
    assert db.session.get(ApiToken, row.id).revoked_at == revoked_at


def test_revoking_everything_keeps_when_a_token_was_first_revoked(client_web, client_user):
    """The purge reads revoked_at: a later sign-out everywhere must not make an old token young."""
    make_token(client_web)
    row = db.session.execute(select(ApiToken)).scalar_one()
    row.revoked_at = long_ago = utcnow() - timedelta(days=40)
    db.session.commit()
    sessions.revoke_everything([client_user.id])
    db.session.commit()
    assert db.session.get(ApiToken, row.id).revoked_at == long_ago


def test_the_service_refuses_a_scope_or_a_lifetime_the_form_would(client_user):
    """The form's choices are one check; the service is the last (a script, a future form)."""
    for scopes, days in ((["admins.manage"], 30), (["self.account"], 0), (["self.account"], 366), ([], 30)):
        with pytest.raises(api_tokens.TokenRefused):
            api_tokens.create_token(client_user, "x", days, scopes, "client password 1")
    assert db.session.execute(select(ApiToken)).first() is None


def test_the_orders_list_holds_only_the_orders_of_the_callers_client(client_web, factories, app):
    """Another client's orders never show, however the list is paged."""
    plan = tariff()
    other = factories.client_user(email="other@example.com")
    db.session.add(Order(client_id=other.client_id, user_id=other.id, tariff_id=plan.id, status="new",
                         price=plan.price))
    db.session.commit()
    secret = make_token(client_web)
    api = app.test_client()
    own = api.post("/api/v1/orders", json={"tariff_id": plan.id}, headers=bearer(secret)).get_json()["id"]
    for query in ("", "?limit=200", "?offset=1"):
        listed = api.get(f"/api/v1/orders{query}", headers=bearer(secret)).get_json()["orders"]
        assert [order["id"] for order in listed] == ([own] if query != "?offset=1" else []), query
