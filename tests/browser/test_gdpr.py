"""In Chromium: install the clear-data module, preview and clear a client; accept a new policy version;
the consent documents on a phone."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Client, User
from portal.models.base import utcnow
from portal.services import consent
from tests.browser.signin import log_in
from tests.gdpr_support import accept_all_required, publish, standard_documents


def test_install_module_preview_and_clear_a_client(live_server, page, factories):
    server = live_server()
    factories.staff(login="boss", password="staff password 1", full_access=True)
    owner = factories.client_user(email="zelda@example.com", name="Zelda Quixote")
    for n in range(3):
        factories.client_user(email=f"member{n}@example.com", client=owner.client)
    client_id = owner.client_id
    log_in(page, server, "boss", "staff password 1")
    expect(page).to_have_url(re.compile(r"/admin/$"))

    page.goto(f"{server.url}/admin/clients/{client_id}")
    expect(page.get_by_role("heading", name="Zelda Quixote")).to_be_visible()
    expect(page.get_by_role("link", name="Clear data")).to_have_count(0)
    page.goto(f"{server.url}/admin/clients/{client_id}/clear-data")
    expect(page.get_by_text("This page does not exist.")).to_be_visible()
    page.goto(f"{server.url}/admin/integration/modules")
    page.get_by_role("button", name="Install").click()
    expect(page.get_by_role("button", name="Uninstall")).to_be_visible()

    page.goto(f"{server.url}/admin/clients/{client_id}")
    page.get_by_role("link", name="Clear data").click()
    expect(page.get_by_role("cell", name="zelda@example.com")).to_be_visible()
    expect(page.get_by_text("Art. 17(3)(b)").first).to_be_visible()
    page.get_by_label("Current password").fill("staff password 1")
    page.get_by_label("Client name").fill("Zelda Quixote")
    page.get_by_role("button", name="Clear data").click()
    expect(page.get_by_role("heading", name="Done")).to_be_visible()
    expect(page.get_by_text("The client and 4 users are anonymized.")).to_be_visible()

    db.session.expire_all()
    assert db.session.get(Client, client_id).name == f"Erased client #{client_id}"
    assert db.session.execute(select(User).where(User.email == "zelda@example.com")).first() is None


def test_accept_a_new_policy_version_at_login(live_server, page, factories):
    server = live_server()
    docs = standard_documents()
    user = factories.client_user(email="c@example.com", password="client password 1")
    accept_all_required(user)
    consent.publish_version(docs["Privacy policy"][0], "Privacy policy, second edition.", utcnow())
    db.session.commit()

    log_in(page, server, "c@example.com", "client password 1")
    expect(page).to_have_url(re.compile(r"/consent/accept$"))
    expect(page.get_by_text("Privacy policy, second edition.")).to_be_visible()
    page.goto(f"{server.url}/settings/general")
    expect(page).to_have_url(re.compile(r"/consent/accept$"))
    page.get_by_role("button", name="Accept and continue").click()
    expect(page).to_have_url(re.compile(r"/home$"))
    assert consent.missing_required(user) == []


def test_a_consent_versions_text_is_readable_on_a_phone(live_server, page, factories):
    """At 375 px the version's text takes the card's width below its number, date and state,
    rather than a column a word wide beside them."""
    server = live_server()
    factories.staff(login="boss", password="staff password 1", full_access=True)
    publish("Privacy policy", True, "We keep your name, email address and phone number for as long as "
            "your account exists, and the log of your sign-ins for the period staff set.")
    page.set_viewport_size({"width": 375, "height": 800})
    log_in(page, server, "boss", "staff password 1")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    page.goto(f"{server.url}/admin/consent")
    text = page.get_by_role("cell", name=re.compile("^We keep your name"))
    card = page.locator("section.card", has=page.get_by_role("heading", name="Privacy policy"))
    assert text.bounding_box()["width"] >= 0.8 * card.bounding_box()["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
