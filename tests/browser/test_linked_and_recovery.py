"""In a real browser: linking and unlinking Google in Security settings; SMS recovery after a phone's delay."""

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.services import background
from tests.browser.signin import ask_for_recovery, log_in
from tests.fraud_support import MOBILE_GB, make_catalog, protect
from tests.oauth_helpers import REFUSED, sub_name, switch_on
from tests.outbox import code_in, messages

NEW = "violet kettle under moonlight"


def sign_in_with_google(page, server, sub: str) -> None:
    page.goto(server.url + "/login")
    page.get_by_role("link", name="Sign in with Google").click()
    authorize(page, sub)


def authorize(page, sub: str) -> None:
    """The loopback provider's consent page, as the person at Google."""
    page.fill("input[name=sub]", sub)
    page.click("button:has-text('Authorize')")


def test_link_google_after_the_password_sign_in_with_it_then_unlink(live_server, page, factories, oidc, smtp):
    owner = factories.client_user(email="linker@example.com", password="client password 1", name="Lena Linker")
    switch_on(keycloak=False)
    sub = sub_name("g")
    oidc.add_user(sub, email="linker@example.com", name="Lena at Google")
    server = live_server(**oidc.app_config("google"), **smtp.app_config())
    log_in(page, server, "linker@example.com", "client password 1")
    page.goto(server.url + "/settings/security")
    linked = page.locator("#linked-accounts")
    expect(linked.get_by_role("heading", name="Linked sign-ins")).to_be_visible()
    expect(linked).to_contain_text("No Google account can sign in as you.")

    linked.get_by_label("Your password (to link an account)").fill("not my password")
    linked.get_by_role("button", name="Link a Google account").click()
    expect(page.locator("#linked-accounts").get_by_text("The current password is not correct.")).to_be_visible()
    linked.get_by_label("Your password (to link an account)").fill("client password 1")
    linked.get_by_role("button", name="Link a Google account").click()
    expect(page).to_have_url(re.compile("^" + re.escape(oidc.authorization_endpoint)))
    authorize(page, sub)
    expect(page).to_have_url(server.url + "/settings/security#linked-accounts")
    expect(page.get_by_text("Google is linked to your account.")).to_be_visible()
    row = linked.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Google")
    expect(row).to_contain_text("linker@example.com")
    expect(row.locator("td").nth(3)).to_have_text("Never")  # Last use: linked, not yet signed in with
    expect(linked.get_by_role("button", name="Link another Google account")).to_be_visible()
    notice = smtp.wait_for(lambda m: m.to == "linker@example.com" and m.subject == "Google was linked to your account")
    assert "a Google account was linked to your account linker@example.com" in notice.body

    page.get_by_role("button", name="Log out").click()
    sign_in_with_google(page, server, sub)
    expect(page).to_have_url(server.url + "/home")
    expect(page.get_by_role("heading", name="Welcome, Lena Linker")).to_be_visible()

    page.goto(server.url + "/settings/security")
    expect(row.locator("td").nth(3)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
    row.get_by_label("Current password").fill("not my password")  # unlinking needs it too
    row.get_by_role("button", name="Unlink").click()
    expect(row.get_by_text("The current password is not correct.")).to_be_visible()
    expect(row.get_by_label("Current password")).to_be_focused()
    row.get_by_label("Current password").fill("client password 1")
    row.get_by_role("button", name="Unlink").click()
    expect(page.get_by_text("The linked sign-in was removed.")).to_be_visible()
    expect(linked).to_contain_text("No Google account can sign in as you.")
    page.get_by_role("button", name="Log out").click()
    sign_in_with_google(page, server, sub)
    expect(page).to_have_url(server.url + "/login")
    expect(page.get_by_text(REFUSED)).to_be_visible()
    page.goto(server.url + "/home")
    expect(page).to_have_url(server.url + "/login?next=%2Fhome")
    assert db.session.execute(select(User.id)).scalars().all() == [owner.id]  # no account made either


def recovery_texts() -> list[str]:
    background.settle()  # codes are texted after the answer
    return [text.body for text in messages(to=MOBILE_GB) if "recovery code" in text.body]


def ask_for_a_code_by_sms(page, server) -> None:
    ask_for_recovery(page, server, "buyer@example.com", "A code by SMS")
    expect(page.get_by_role("heading", name="Enter the code")).to_be_visible()
    expect(page.get_by_text("If the account has a verified phone number, we sent a 6-digit code")).to_be_visible()


def test_a_phone_verified_on_the_way_to_an_order_recovers_the_password_only_after_the_delay(
        live_server, page, factories):
    factories.client_user(email="buyer@example.com", password="client password 1")
    tariff_id = make_catalog()["vps"]
    protect()
    server = live_server()
    log_in(page, server, "buyer@example.com", "client password 1")
    page.goto(f"{server.url}/order/{tariff_id}")
    expect(page.get_by_role("status")).to_contain_text("needs a verified phone number")
    page.get_by_role("link", name="More information").click()
    page.get_by_label("Phone number").fill("+44 7400 123456")
    page.get_by_role("button", name="Send code").click()
    code_field = page.get_by_label("Code", exact=True)
    expect(code_field).to_be_visible()
    code_field.fill(code_in(MOBILE_GB))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{server.url}/order/{tariff_id}")
    expect(page.get_by_text(f"Your phone number {MOBILE_GB} is verified.")).to_be_visible()
    background.settle()  # notices go after the answer
    [notice] = messages(to="buyer@example.com", subject="A phone number was verified on your account")
    assert "It can receive sign-in and password recovery codes from" in notice.body and MOBILE_GB not in notice.body

    page.get_by_role("button", name="Log out").click()
    ask_for_a_code_by_sms(page, server)  # the same step as for any account, and no text is sent
    assert recovery_texts() == []

    db.session.execute(update(User).where(User.email == "buyer@example.com")
                       .values(phone_recovery_after=utcnow() - timedelta(minutes=1)))  # the delay has passed
    db.session.commit()
    ask_for_a_code_by_sms(page, server)
    [text] = recovery_texts()
    page.get_by_label("Code").fill(re.search(r"code is (\d{6})", text).group(1))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/recover/reset/\S+$"))
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("Confirm new password").fill(NEW)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your password was changed. Log in with the new one.")).to_be_visible()
    log_in(page, server, "buyer@example.com", NEW)
    expect(page).to_have_url(server.url + "/home")
