"""In a real browser: Deny access toggled in place, a finance-only menu, Rights that change a user's menu, list search."""

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import SecondFactor, User
from portal.models.access import user_access_group
from portal.models.base import utcnow
from portal.services.access import seed_groups
from tests.access_helpers import PASSWORD, staff_with
from tests.browser.signin import log_in

CLIENT_PASSWORD = "client password 1"


def sign_in(page, server, login, password):
    log_in(page, server, login, password)
    page.wait_for_url(re.compile(r"/(admin/|home)$"))


def test_deny_access_toggles_inline_without_reload(live_server, page, factories):
    server = live_server()
    factories.staff(login="boss", password=PASSWORD, full_access=True)
    target = factories.staff(login="leaver", password=PASSWORD)
    sign_in(page, server, "boss", PASSWORD)
    page.goto(server.url + "/admin/administrators")
    page.evaluate("window.pageMarker = 'still here'")
    row = page.locator(f"#admin-{target.id}")
    expect(row).not_to_have_class(re.compile("denied"))
    row.get_by_label("Deny access").check()
    expect(row).to_have_class(re.compile("denied"))
    expect(row.get_by_label("Deny access")).to_be_checked()
    assert page.evaluate("window.pageMarker") == "still here"
    db.session.expire_all()
    assert db.session.get(User, target.id).access_denied is True
    row.get_by_label("Deny access").uncheck()
    expect(row).not_to_have_class(re.compile("denied"))
    assert page.evaluate("window.pageMarker") == "still here"
    row.get_by_label("Deny access").focus()  # from the keyboard: focus stays on the swapped-in box
    page.keyboard.press("Space")
    expect(row).to_have_class(re.compile("denied"))
    expect(row.get_by_label("Deny access")).to_be_focused()
    page.keyboard.press("Space")
    expect(row).not_to_have_class(re.compile("denied"))
    db.session.expire_all()
    assert db.session.get(User, target.id).access_denied is False


def test_finance_only_admin_sees_finance_menu_not_administrators(live_server, page, factories):
    server = live_server()
    officer = factories.staff(login="officer", password=PASSWORD)
    finance = seed_groups()["Finance"]
    db.session.execute(user_access_group.insert().values(user_id=officer.id, group_id=finance.id))
    db.session.commit()
    sign_in(page, server, "officer", PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Balance", "Payments", "Expenses", "Reports"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Administrators")).to_have_count(0)
    expect(nav.get_by_role("link", name="Access permissions")).to_have_count(0)
    nav.get_by_role("link", name="Reports", exact=True).click()
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()


def test_owner_gives_a_user_a_right_and_their_menu_changes(live_server, page, browser_instance, factories):
    server = live_server()
    owner = factories.client_user(email="owner@example.com", password=CLIENT_PASSWORD)
    factories.client_user(email="member@example.com", password=CLIENT_PASSWORD, client=owner.client)
    if "fraud.catalog" in server.app.view_functions:
        right, entry = "Order services", "Order"
    else:
        right, entry = "View finance", "Finance"
    member_context = browser_instance.new_context()
    member_page = member_context.new_page()
    sign_in(member_page, server, "member@example.com", CLIENT_PASSWORD)
    member_nav = member_page.get_by_role("navigation", name="Main")
    expect(member_nav.get_by_role("link", name=entry, exact=True)).to_have_count(0)

    sign_in(page, server, "owner@example.com", CLIENT_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("row", name=re.compile("member@example.com")).get_by_role("link", name="Rights").click()
    page.get_by_label(right).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved")
    expect(page.get_by_label(right)).to_be_checked()

    member_page.reload()
    expect(member_nav.get_by_role("link", name=entry, exact=True)).to_be_visible()
    member_nav.get_by_role("link", name=entry, exact=True).click()
    expect(member_page).to_have_url(re.compile(r"/(order|finance)$"))
    member_context.close()


def test_list_search_narrows_the_rows_in_place_as_staff_type(live_server, page, factories):
    server = live_server()
    factories.staff(login="boss", password=PASSWORD, full_access=True)
    for email in ("alice@example.com", "albert@example.org", "bob@example.com"):
        factories.client_user(email=email)
    sign_in(page, server, "boss", PASSWORD)
    page.goto(server.url + "/admin/users")
    page.evaluate("window.pageMarker = 'still here'")
    results = page.locator("#results")
    expect(page.get_by_text("Finds what starts with the text")).to_be_visible()
    page.get_by_label("Search").fill("AL")
    expect(results.get_by_text("bob@example.com")).to_have_count(0)
    expect(results.get_by_text("alice@example.com")).to_be_visible()
    expect(results.get_by_text("albert@example.org")).to_be_visible()
    page.get_by_label("Search").fill("*.org")
    expect(results.get_by_text("alice@example.com")).to_have_count(0)
    expect(results.get_by_text("albert@example.org")).to_be_visible()
    assert page.evaluate("window.pageMarker") == "still here"
    expect(page).to_have_url(re.compile(r"/admin/users\?q=(\*|%2A)\.org$"))


def test_support_unlocks_a_locked_user_from_the_users_list(live_server, page, factories):
    server = live_server()
    locked = factories.client_user(email="locked@example.com", failed_logins=5,
                                   locked_until=utcnow() + timedelta(minutes=15))
    staff_with(factories, "users.view", "users.unlock", login="support")
    sign_in(page, server, "support", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    row = page.get_by_role("row").filter(has_text="locked@example.com")
    expect(row.get_by_text("Locked until")).to_be_visible()
    row.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("locked@example.com is unlocked.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="locked@example.com").get_by_text("Locked until")).to_have_count(0)
    db.session.expire_all()
    assert not db.session.get(User, locked.id).is_locked


def test_a_lock_and_its_unlock_are_on_screen_in_the_users_list_on_a_phone(live_server, page, factories):
    server = live_server()
    factories.client_user(email="locked@example.com", failed_logins=5, locked_until=utcnow() + timedelta(minutes=15))
    staff_with(factories, "users.view", "users.unlock", login="support")
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, server, "support", PASSWORD)
    page.goto(server.url + "/admin/users")
    row = page.get_by_role("row").filter(has_text="locked@example.com")
    for shown in (row.get_by_text("Locked until"), row.get_by_role("button", name="Unlock")):
        box = shown.bounding_box()
        assert box["x"] + box["width"] <= 375


def test_support_resets_a_lost_second_factor_from_the_client_card(live_server, page, factories):
    """Asked first, with the staff member's own password, then back on the card with the outcome;
    the factor is gone."""
    server = live_server()
    owner = factories.client_user(email="owner@example.com", password=CLIENT_PASSWORD)
    db.session.add(SecondFactor(user_id=owner.id, kind="totp", secret="unused", confirmed_at=utcnow()))
    db.session.commit()
    staff_with(factories, "clients.view", "users.reset_2fa", login="support")
    sign_in(page, server, "support", PASSWORD)
    page.goto(f"{server.url}/admin/clients/{owner.client_id}")
    page.get_by_role("row", name=re.compile(f"User #{owner.id}")).get_by_role("link", name="Reset two-factor").click()
    expect(page.get_by_role("heading", name=f"Reset two-factor of User #{owner.id}")).to_be_visible()
    expect(page.get_by_text("authenticator app")).to_be_visible()
    page.get_by_label("Current password").fill("not my password")
    page.get_by_role("button", name="Reset two-factor").click()
    expect(page.locator("#current_password-error")).to_have_text("The current password is not correct.")
    expect(page.get_by_label("Current password")).to_have_value("")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Reset two-factor").click()
    expect(page).to_have_url(f"{server.url}/admin/clients/{owner.client_id}")
    expect(page.get_by_text(f"Two-factor authentication of User #{owner.id} is off")).to_be_visible()
    expect(page.get_by_role("link", name="Reset two-factor")).to_have_count(0)
    db.session.expire_all()
    assert db.session.execute(select(SecondFactor).where(SecondFactor.user_id == owner.id)).first() is None


def test_support_unlocks_and_renames_from_the_client_card_and_the_owner_renames_in_client_profile(
        live_server, page, browser_instance, factories):
    server = live_server()
    owner = factories.client_user(email="owner@example.com", password=CLIENT_PASSWORD)
    locked = factories.client_user(email="locked@example.com", password=CLIENT_PASSWORD, client=owner.client,
                                   locked_until=utcnow() + timedelta(minutes=15))
    staff_with(factories, "clients.view", "clients.edit", "users.unlock", login="support")
    sign_in(page, server, "support", PASSWORD)
    page.goto(f"{server.url}/admin/clients/{owner.client_id}")
    row = page.get_by_role("row", name=re.compile(f"User #{locked.id}"))
    expect(row).to_contain_text("Locked until")
    row.get_by_role("button", name="Unlock").click()
    expect(page).to_have_url(f"{server.url}/admin/clients/{owner.client_id}")
    expect(page.get_by_text(f"User #{locked.id} is unlocked.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(f"User #{locked.id}"))).not_to_contain_text("Locked until")

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Name").fill("   ")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    page.get_by_label("Name").fill("Acme Hosting Ltd")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Acme Hosting Ltd")).to_be_visible()
    expect(page.get_by_text("Client saved.")).to_be_visible()

    owner_page = browser_instance.new_context().new_page()
    sign_in(owner_page, server, "owner@example.com", CLIENT_PASSWORD)
    owner_page.get_by_role("navigation", name="Main").get_by_role("link", name="Client profile").click()
    expect(owner_page.get_by_label("Name")).to_have_value("Acme Hosting Ltd")
    owner_page.get_by_label("Name").fill("Acme Cloud")
    owner_page.get_by_role("button", name="Save").click()
    expect(owner_page.get_by_text("Client saved.")).to_be_visible()
    owner_page.get_by_role("link", name="Home").click()
    expect(owner_page.get_by_text("Client: Acme Cloud")).to_be_visible()


def test_adding_an_administrator_asks_for_ones_own_password_and_keeps_the_form(live_server, page, factories):
    server = live_server()
    factories.staff(login="boss", password=PASSWORD, full_access=True)
    sign_in(page, server, "boss", PASSWORD)
    page.goto(server.url + "/admin/administrators/new")
    page.get_by_label("Login", exact=True).fill("newbie")
    page.get_by_label("Email").fill("newbie@example.com")
    page.get_by_label("View clients").check()
    page.get_by_label("Current password").fill("not my password")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#current_password-error")).to_have_text("The current password is not correct.")
    expect(page.get_by_label("Login", exact=True)).to_have_value("newbie")
    expect(page.get_by_label("View clients")).to_be_checked()
    expect(page.get_by_label("Current password")).to_have_value("")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Administrator newbie saved.")).to_be_visible()
    assert db.session.execute(select(User).where(User.login == "newbie")).scalar_one().email == "newbie@example.com"
