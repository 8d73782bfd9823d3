"""General settings → Your data → Download my data: the JSON file of what the portal holds about the user."""

import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuthEvent, Expense, OAuthLink, Order, Payment, User
from portal.models.base import utcnow
from portal.services import personal_data
from portal.services.personal_data import NotExported, PersonalData, registered
from tests.api_helpers import make_token
from tests.fraud_support import MOBILE_GB, check, make_catalog, protect, send
from tests.gdpr_support import accept_all_required, request_email_change, standard_documents
from tests.methods_helpers import enrol_totp
from tests.outbox import code_in
from tests.web import WebClient

URL = "/settings/data-export"
PASSWORD = "client password 1"


def browser(app, ip: str, agent: str) -> WebClient:
    web = WebClient(app.test_client())
    web.client.environ_base.update({"REMOTE_ADDR": ip, "HTTP_USER_AGENT": agent})
    return web


def download(web):
    return web.post_form(URL, {}, page_url="/settings/general")


def stored_secrets() -> set[str]:
    """Every hash, secret and token value stored in any table, for anyone."""
    db.session.commit()
    found = set()
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if c.name.endswith("_hash") or c.name in ("secret", "request_id")]
        for column in columns:
            found |= {value for value in db.session.execute(select(column)).scalars() if value}
    return found


def client_with_billing(factories, email: str, name: str, reference: str, tariff_id: int) -> User:
    user = factories.client_user(email=email, name=name, password=PASSWORD)
    accept_all_required(user)
    order = Order(client_id=user.client_id, user_id=user.id, tariff_id=tariff_id, price=Decimal("5.00"))
    db.session.add_all([order, Payment(client_id=user.client_id, amount=Decimal("120.50"), reference=reference)])
    db.session.flush()
    db.session.add(Expense(client_id=user.client_id, order_id=order.id, amount=Decimal("5.00"),
                           description=f"{name} server, March"))
    db.session.commit()
    return user


@pytest.fixture
def alice(app, factories):
    """A client owner with every kind of personal data: sessions, sign-ins, consents, a verified
    phone, a linked sign-in, an API token, TOTP with recovery codes, a pending email, billing."""
    documents = standard_documents()
    tariffs = make_catalog()
    user = client_with_billing(factories, "alice@example.com", "Alice Zephyrine", "INV-ALICE-77", tariffs["vps"])
    web = browser(app, "203.0.113.7", "AliceBrowser/3.1")
    web.login("alice@example.com", PASSWORD)
    marketing = documents["Marketing messages"][0]
    web.post_form(f"/settings/consents/{marketing.id}", {"give": "1"}, page_url="/settings/general")
    protect()
    send(web, MOBILE_GB)
    check(web, code_in(MOBILE_GB))
    totp_secret, recovery_codes = enrol_totp(web, PASSWORD)
    token = make_token(web, name="alice's deploy script")
    request_email_change(web, "Alice Zephyrine", "alice.new@example.org", PASSWORD)
    db.session.add(OAuthLink(user_id=user.id, provider="google", issuer="https://accounts.google.com",
                             subject="google-subject-4711", email="alice.g@gmail.example"))
    db.session.commit()
    return {"web": web, "user": user, "plain_secrets": [totp_secret, token, *recovery_codes]}


def test_the_file_holds_each_fact_about_the_user_and_none_of_their_secrets(alice):
    response = download(alice["web"])
    assert response.status_code == 200, response.get_data(as_text=True)[:1500]
    assert response.mimetype == "application/json"
    today = f"{utcnow():%Y-%m-%d}"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="portal-data-alice-example.com-{today}.json"'
    assert "no-store" in response.headers["Cache-Control"]
    text = response.get_data(as_text=True)
    data = json.loads(text)["data"]

    account = data["user"]
    assert (account["login"], account["email"], account["name"], account["kind"]) == \
        ("alice@example.com", "alice@example.com", "Alice Zephyrine", "client")
    assert account["phone"] == MOBILE_GB and account["phone_verified_at"].startswith(today)
    assert data["client"]["name"] == "Alice Zephyrine"
    assert any(s["ip"] == "203.0.113.7" and s["user_agent"] == "AliceBrowser/3.1" and s["revoked_at"] is None
               for s in data["user_session"])
    assert {"login", "phone_verified", "2fa_enabled", "api_token_created"} <= {e["event"] for e in data["auth_event"]}
    assert all(e["ip"] == "203.0.113.7" for e in data["auth_event"])
    assert {(c["document"], c["version"], c["decision"]) for c in data["consent_record"]} >= {
        ("Privacy policy", 1, "accepted"), ("Marketing messages", 1, "accepted")}
    assert any(c["ip"] == "203.0.113.7" for c in data["consent_record"])
    [verification] = data["phone_verification"]
    assert (verification["number"], verification["country"], verification["status"], verification["ip"]) == \
        (MOBILE_GB, "GB", "verified", "203.0.113.7")
    assert [(link["provider"], link["email"]) for link in data["oauth_link"]] == [("google", "alice.g@gmail.example")]
    [token] = data["api_token"]
    assert token["name"] == "alice's deploy script" and sorted(token["scopes"]) == ["client.order", "self.account"]
    assert [(f["kind"], f["confirmed_at"] is not None) for f in data["second_factor"]] == [("totp", True)]
    assert [change["email"] for change in data["pending_email_change"]] == ["alice.new@example.org"]
    billing = data["billing"]
    assert [(o["tariff"], o["price"]) for o in billing["orders"]] == [("VPS Start", "5.00")]
    assert [(p["amount"], p["reference"]) for p in billing["payments"]] == [("120.50", "INV-ALICE-77")]
    assert [e["description"] for e in billing["expenses"]] == ["Alice Zephyrine server, March"]
    assert "only hashes of your recovery codes" in json.loads(text)["not_included"]["recovery_code"]

    secrets = stored_secrets()
    assert db.session.get(User, alice["user"].id).password_hash in secrets and len(secrets) > 15
    leaked = [value for value in secrets | set(alice["plain_secrets"]) if value in text]
    assert leaked == []


def test_another_clients_data_never_appears(app, alice, factories):
    tariff_id = db.session.execute(select(Order.tariff_id)).scalar()
    bob = client_with_billing(factories, "bob@example.net", "Bob Quillfeather", "INV-BOB-99", tariff_id)
    bob.phone = "+447700900555"
    db.session.commit()
    bob_web = browser(app, "198.51.100.99", "BobAgent/7.0")
    bob_web.login("bob@example.net", PASSWORD)
    make_token(bob_web, name="bob's backup job")
    assert download(bob_web).status_code == 200  # Bob's own export is in the log too

    text = download(alice["web"]).get_data(as_text=True).lower()
    for fact in ["bob@example.net", "quillfeather", "inv-bob-99", "447700900555", "198.51.100.99",
                 "bobagent", "bob's backup job"]:
        assert fact not in text
    assert "inv-alice-77" in text


def test_a_client_user_without_finance_rights_gets_no_payments(app, alice, factories):
    colleague = factories.client_user(email="carol@example.com", password=PASSWORD, client=alice["user"].client)
    accept_all_required(colleague)
    web = browser(app, "192.0.2.10", "CarolBrowser/1.0")
    web.login("carol@example.com", PASSWORD)
    response = download(web)
    data = response.get_json()["data"]
    assert data["user"]["login"] == "carol@example.com" and data["billing"] == {}
    assert "INV-ALICE-77" not in response.get_data(as_text=True)


def test_staff_download_their_own(staff_web):
    response = download(staff_web)
    assert response.status_code == 200
    assert re.fullmatch(r'attachment; filename="portal-data-boss-\d{4}-\d{2}-\d{2}\.json"',
                        response.headers["Content-Disposition"])
    data = response.get_json()["data"]
    assert (data["user"]["login"], data["user"]["kind"]) == ("boss", "staff")
    assert data["client"] is None and data["billing"] is None
    assert [e["event"] for e in data["auth_event"]][:1] == ["login"]


def test_anonymous_visitors_are_sent_to_sign_in(web):
    response = web.post_form(URL, {}, page_url="/login")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_general_settings_offer_the_download(client_web):
    page = client_web.get("/settings/general").get_data(as_text=True)
    assert "Your data" in page and f'action="{URL}"' in page and "Download my data" in page


def test_each_download_is_logged_without_data_and_limited_per_user(make_app, factories):
    app = make_app(RATELIMIT_DATA_EXPORT_PER_USER="2 per hour")
    factories.client_user(email="dora@example.com", password=PASSWORD)
    factories.client_user(email="eve@example.com", password=PASSWORD)
    dora, eve = WebClient(app.test_client()), WebClient(app.test_client())
    dora.login("dora@example.com", PASSWORD)
    eve.login("eve@example.com", PASSWORD)
    assert [download(dora).status_code for _ in range(3)] == [200, 200, 429]
    assert download(eve).status_code == 200  # counted per user, not per address
    events = db.session.execute(select(AuthEvent.login, AuthEvent.detail)
                                .where(AuthEvent.event == "data_exported").order_by(AuthEvent.id)).all()
    assert events == [("dora@example.com", None), ("dora@example.com", None), ("eve@example.com", None)]


def test_every_registered_table_exports_or_says_why_not(app):
    entries = registered()
    assert len(entries) > 15
    for entry in entries:
        assert callable(entry.export) or (isinstance(entry.export, NotExported) and entry.export.reason), entry.name
    for export in (None, NotExported(""), "everything"):
        with pytest.raises(TypeError):
            PersonalData("zz_new", {}, personal_data.deleter(OAuthLink), export)
    with pytest.raises(TypeError):
        PersonalData("zz_new", {}, personal_data.deleter(OAuthLink))
