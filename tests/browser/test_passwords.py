"""Passwords in a real browser: live policy checks, ALTCHA, General settings, recovery by email."""

from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import PendingRegistration
from portal.services import background
from tests.browser.altcha import solve_altcha
from tests.browser.signin import ask_for_recovery, log_in
from tests.outbox import link_in
from tests.signup import register
from tests.web import WebClient

GOOD = "violet kettle under moonlight"


def rule(page, label):
    return page.locator("#password-rules li", has_text=label)


def latest_link(email, path):
    background.settle()  # recovery links are mailed after the answer
    return link_in(email, path)


def test_register_weak_then_good_with_live_checks_and_altcha(live_server, page):
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    server = live_server()
    page.goto(server.url + "/register")
    page.get_by_label("Email").fill("rowan@example.com")
    page.get_by_label("Name").fill("Rowan Quill")
    password = page.get_by_label("Password", exact=True)
    password.fill("rowan123")
    expect(rule(page, "At least 12 characters")).to_have_class("fail")
    expect(rule(page, "Not your login, email or name")).to_have_class("fail")
    password.fill("superman123456")
    expect(rule(page, "At least 12 characters")).to_have_class("ok")
    expect(rule(page, "Not a common password")).to_have_class("fail")
    page.get_by_label("Confirm password").fill("superman123456")
    solve_altcha(page)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("This password is too common. Choose another.")).to_be_visible()

    password.fill(GOOD)
    for label in ("At least 12 characters", "Not a common password", "Not your login, email or name"):
        expect(rule(page, label)).to_have_class("ok")
    page.get_by_label("Confirm password").fill(GOOD)
    solve_altcha(page)
    payload = page.locator("input[name=altcha]").input_value()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert violations == []

    replay = register(WebClient(server.app.test_client()), email="other@example.com", name="Other",
                      password=GOOD, altcha=payload)
    assert "This captcha was already used." in replay.get_data(as_text=True)
    emails = db.session.execute(select(PendingRegistration.email)).scalars().all()
    assert emails == ["rowan@example.com"]


def test_change_password_in_general_settings(live_server, page, factories):
    factories.client_user(email="amber@example.com", password="amber falcon river", name="Amber")
    server = live_server()
    log_in(page, server, "amber@example.com", "amber falcon river")
    page.get_by_role("link", name="General settings").click()
    page.get_by_label("Current password").fill("amber falcon river")
    page.get_by_label("New password", exact=True).fill("amber2024")
    expect(rule(page, "At least 12 characters")).to_have_class("fail")
    expect(rule(page, "Not your login, email or name")).to_have_class("fail")
    page.get_by_label("New password", exact=True).fill(GOOD)
    expect(rule(page, "Not your login, email or name")).to_have_class("ok")
    page.get_by_label("Confirm new password").fill(GOOD)
    page.locator("#password-change").get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your password was changed.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    log_in(page, server, "amber@example.com", GOOD)
    expect(page).to_have_url(server.url + "/home")


def test_recover_by_email(live_server, page, factories):
    factories.client_user(email="lost@example.com", password="amber falcon river", name="Lost")
    server = live_server()
    ask_for_recovery(page, server, "lost@example.com", "A link by email")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    page.goto(server.url + latest_link("lost@example.com", "/recover/reset/"))
    page.get_by_label("New password", exact=True).fill(GOOD)
    expect(rule(page, "Not a common password")).to_have_class("ok")
    page.get_by_label("Confirm new password").fill(GOOD)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your password was changed. Log in with the new one.")).to_be_visible()
    log_in(page, server, "lost@example.com", GOOD)
    expect(page).to_have_url(server.url + "/home")


def test_change_email_in_general_settings_through_the_link(live_server, page, factories):
    factories.client_user(email="birch@example.com", password="amber falcon river", name="Birch")
    server = live_server()
    log_in(page, server, "birch@example.com", "amber falcon river")
    page.get_by_role("link", name="General settings").click()
    page.get_by_label("Email").fill("willow@example.com")
    page.get_by_label("Your password (for a new address)").fill("amber falcon river")
    page.locator("#profile").get_by_role("button", name="Save").click()
    expect(page.get_by_text("We sent a link to willow@example.com.")).to_be_visible()
    expect(page.locator("#pending-email")).to_contain_text("willow@example.com")
    expect(page.get_by_label("Email")).to_have_value("birch@example.com")  # not yet changed

    page.goto(server.url + latest_link("willow@example.com", "/settings/email/confirm/"))
    page.get_by_role("button", name="Use this email address").click()
    expect(page.get_by_text("Your email address is now willow@example.com.")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("willow@example.com")
    page.get_by_role("button", name="Log out").click()
    log_in(page, server, "willow@example.com", "amber falcon river")  # a client's login follows it
    expect(page).to_have_url(server.url + "/home")
