"""In Chromium: install the clear-data module, preview and clear a client, uninstall it only when asked;
accept a new policy version; the consent documents on a phone; download one's data."""

import json
import re
from pathlib import Path

from flask import g
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Client, User
from portal.models.base import utcnow
from portal.services import consent, modules
from tests.browser.signin import log_in
from tests.gdpr_support import accept_all_required, install_clear_data, publish, standard_documents


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


def test_uninstalling_the_module_asks_first(live_server, page, factories):
    server = live_server()
    factories.staff(login="boss", password="staff password 1", full_access=True)
    install_clear_data()
    log_in(page, server, "boss", "staff password 1")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    page.goto(f"{server.url}/admin/integration/modules")
    card = page.locator("#module-gdpr_clear_data")
    posted = []
    page.on("request", lambda request: request.method == "POST" and posted.append(request.url))
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    card.get_by_role("button", name="Uninstall").click()  # asked, and declined
    assert questions == ["Uninstall GDPR client data cleaning? "
                         "Clear data disappears from client cards until the module is installed again."]
    page.wait_for_load_state("networkidle")
    assert posted == []
    expect(card.get_by_text("installed", exact=True)).to_be_visible()
    assert clear_data_installed()

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Uninstall").click()
    expect(card.get_by_role("button", name="Install")).to_be_visible()
    expect(card.get_by_text("not installed", exact=True)).to_be_visible()
    assert not clear_data_installed()


def clear_data_installed() -> bool:
    """As the database says now: the settings read earlier are cached in the test's app context."""
    db.session.expire_all()
    g.pop("_settings_cache", None)
    return modules.installed(modules.GDPR_CLEAR_DATA)


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


def test_a_client_downloads_their_data_and_stays_on_the_page(live_server, page, factories):
    server = live_server()
    factories.client_user(email="zelda@example.com", name="Zelda Quixote", password="client password 1")
    log_in(page, server, "zelda@example.com", "client password 1")
    page.goto(server.url + "/settings/general")
    with page.expect_download() as waiting:
        page.get_by_role("button", name="Download my data").click()
    download = waiting.value
    assert re.fullmatch(r"portal-data-zelda-example\.com-\d{4}-\d{2}-\d{2}\.json", download.suggested_filename)
    data = json.loads(Path(download.path()).read_text())
    assert data["data"]["user"]["email"] == "zelda@example.com"
    expect(page).to_have_url(server.url + "/settings/general")
