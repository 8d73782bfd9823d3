"""The fraud banner in a real browser: verify the phone through the loopback Vonage, then order."""

import re
from decimal import Decimal

from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Order
from portal.models.base import utcnow
from portal.services import demo
from tests.browser.signin import log_in
from tests.fraud_support import MOBILE_GB, make_catalog, orders, protect


def test_banner_to_verified_phone_to_order(live_server, page, factories, vonage):
    factories.client_user(email="buyer@example.com", password="client password 1")
    tariff_id = make_catalog()["vps"]
    protect()
    server = live_server(**vonage.app_config())
    page.goto(server.url + "/login")
    page.get_by_label("Login").fill("buyer@example.com")
    page.get_by_label("Password").fill("client password 1")
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{server.url}/order/{tariff_id}")
    expect(page.get_by_role("status")).to_contain_text("needs a verified phone number")
    expect(page.get_by_role("button", name="Order")).to_have_count(0)
    page.get_by_role("link", name="More information").click()
    expect(page).to_have_url(re.compile(r"/verify-phone\?next=/order/\d+$"))

    page.get_by_label("Phone number").fill("+44 7400 123456")
    page.get_by_role("button", name="Send code").click()
    code_field = page.get_by_label("Code", exact=True)
    expect(code_field).to_be_visible()  # swapped in place by htmx
    code_field.fill(vonage.code_for(MOBILE_GB))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{server.url}/order/{tariff_id}")
    expect(page.get_by_text(f"Your phone number {MOBILE_GB} is verified.")).to_be_visible()
    expect(page.get_by_role("link", name="More information")).to_have_count(0)

    page.goto(server.url + "/settings/general")
    phone_card = page.locator("#phone-settings")
    expect(phone_card).to_contain_text(MOBILE_GB)
    expect(phone_card.locator(".badge.ok")).to_have_text("verified")

    page.goto(f"{server.url}/order/{tariff_id}")
    page.get_by_role("button", name="Order").click()
    expect(page).to_have_url(server.url + "/orders")
    expect(page.get_by_text("VPS Start").first).to_be_visible()
    assert len(orders()) == 1


def test_changing_the_phone_in_general_settings_clears_its_verified_state(live_server, page, factories):
    factories.client_user(email="mover@example.com", password="client password 1", phone=MOBILE_GB,
                          phone_verified_at=utcnow())
    server = live_server()
    log_in(page, server, "mover@example.com", "client password 1")
    page.goto(server.url + "/settings/general")
    phone_card = page.locator("#phone-settings")
    expect(phone_card.locator(".badge.ok")).to_have_text("verified")
    phone_card.get_by_label("Phone number").fill("+44 7400 654321")
    phone_card.get_by_label("Your password (for a new number)").fill("wrong password")
    phone_card.get_by_role("button", name="Save").click()
    expect(phone_card.get_by_text("The current password is not correct.")).to_be_visible()
    expect(phone_card.get_by_label("Phone number")).to_have_value("+44 7400 654321")  # kept as typed
    phone_card.get_by_label("Your password (for a new number)").fill("client password 1")
    phone_card.get_by_role("button", name="Save").click()
    expect(phone_card.get_by_text("Phone number saved.")).to_be_visible()  # swapped in place by htmx
    expect(phone_card).to_contain_text("+447400654321")
    expect(phone_card.locator(".badge")).to_have_text("not verified")
    expect(page.get_by_label("Current password")).to_be_empty()  # the password form's own field


def test_the_orders_page_pages_with_older_and_newer(live_server, page, factories):
    buyer = factories.client_user(email="many@example.com", password="client password 1")
    tariff_id = make_catalog()["hosting"]
    db.session.add_all(Order(client_id=buyer.client_id, user_id=buyer.id, tariff_id=tariff_id, status="new",
                             price=Decimal("3.00")) for _ in range(55))
    db.session.commit()
    server = live_server()
    log_in(page, server, "many@example.com", "client password 1")
    page.goto(server.url + "/orders")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(50)
    page.get_by_role("link", name="Older").click()  # htmx swaps the results and pushes the URL
    expect(rows).to_have_count(5)
    expect(page).to_have_url(re.compile(r"/orders\?before=\d+$"))
    page.get_by_role("link", name="Newer").click()
    expect(rows).to_have_count(50)


def test_a_us_landline_is_refused_by_its_line_type_and_a_us_mobile_verifies(live_server, page, factories, vonage):
    """Mobile numbers only, with the Number Insight check: the refusal sits by the field with the
    number as typed; the mobile that follows gets its code in place."""
    landline, mobile = "+12015550123", "+12015550124"
    factories.client_user(email="buyer@example.com", password="client password 1")
    make_catalog()
    protect(mobile_only=True, line_type_lookup=True)
    vonage.set_line_type(landline, "landline")
    vonage.set_line_type(mobile, "mobile")
    server = live_server(**vonage.app_config())
    log_in(page, server, "buyer@example.com", "client password 1")
    page.goto(server.url + "/verify-phone")

    phone = page.get_by_label("Phone number")
    phone.fill(landline)
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_text("Only mobile numbers are accepted. Enter a mobile number.")).to_be_visible()
    expect(page.get_by_label("Phone number")).to_have_value(landline)
    expect(page.get_by_label("Code", exact=True)).to_have_count(0)

    page.get_by_label("Phone number").fill(mobile)
    page.get_by_role("button", name="Send code").click()
    code_field = page.get_by_label("Code", exact=True)
    expect(code_field).to_be_visible()
    code_field.fill(vonage.code_for(mobile))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text(f"Your phone number {mobile} is verified.")).to_be_visible()
    assert vonage.lookups == [landline[1:], mobile[1:]]


def test_the_demo_shows_the_banner_and_the_code_arrives_in_the_outbox(live_server, page):
    """As `make run` leaves it: dedicated servers need a verified phone, texts go to /dev/outbox."""
    password = dict(demo.seed_demo())["owner@example.com"]
    server = live_server()
    log_in(page, server, "owner@example.com", password)
    page.goto(server.url + "/order")
    page.get_by_role("link", name="VPS Start").click()
    expect(page.get_by_role("button", name="Order")).to_be_visible()  # not covered: no banner
    page.goto(server.url + "/order")
    page.get_by_role("link", name="Dedicated E3").click()
    expect(page.get_by_role("status")).to_contain_text("needs a verified phone number")
    page.get_by_role("link", name="More information").click()
    page.get_by_label("Phone number").fill("+44 7400 123456")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_label("Code", exact=True)).to_be_visible()

    outbox = page.context.new_page()
    outbox.goto(server.url + "/dev/outbox")
    text = outbox.locator(".outbox-message", has_text=f"SMS to {MOBILE_GB}").first.inner_text()
    page.get_by_label("Code", exact=True).fill(re.search(r"verification code is (\d+)", text).group(1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text(f"Your phone number {MOBILE_GB} is verified.")).to_be_visible()
    page.get_by_role("button", name="Order").click()
    expect(page).to_have_url(server.url + "/orders")
    assert [order.tariff.name for order in orders()][-1] == "Dedicated E3"
