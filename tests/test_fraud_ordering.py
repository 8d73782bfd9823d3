"""The catalog, the order form's banner and the fraud check inside place_order."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Order, Tariff, User
from portal.models.base import utcnow
from portal.services import demo, fraud, ordering, settings
from tests.fraud_support import (
    MOBILE_GB,
    client_of_a_second_provider,
    make_catalog,
    orders,
    protect,
)
from tests.outbox import sms_count
from tests.statements import recorded
from tests.web import WebClient


@pytest.fixture
def tariffs(app):
    return make_catalog()


def test_catalog_lists_types_and_tariffs_with_what_needs_verification(client_web, tariffs):
    protect()
    body = client_web.get("/order").get_data(as_text=True)
    for name in ("Virtual server", "VPS Start", "Dedicated Gold", "Hosting Lite", "90.00"):
        assert name in body
    assert body.count("needs a verified phone number") == 2  # VPS Start (its type) and Dedicated E3


def test_banner_replaces_the_order_button_on_a_covered_tariff(client_web, tariffs):
    protect()
    body = client_web.get(f"/order/{tariffs['vps']}").get_data(as_text=True)
    assert 'class="banner"' in body and ">More information</a>" in body
    assert f'href="/verify-phone?next=/order/{tariffs["vps"]}"' in body
    assert 'value="Order"' not in body
    free = client_web.get(f"/order/{tariffs['gold']}").get_data(as_text=True)
    assert "More information" not in free and 'value="Order"' in free


def test_forged_order_post_is_refused_and_nothing_is_stored(client_web, tariffs):
    protect()
    token_page = f"/order/{tariffs['hosting']}"  # a page that does show the Order form
    for key in ("vps", "e3"):
        response = client_web.post_form(f"/order/{tariffs[key]}", {}, page_url=token_page)
        assert response.status_code == 403
        assert "needs a verified phone number" in response.get_data(as_text=True)
    assert orders() == []


def test_free_tariff_orders_and_shows_on_the_orders_page(client_web, tariffs):
    protect()
    response = client_web.post_form(f"/order/{tariffs['hosting']}", {})
    assert response.status_code == 302 and response.headers["Location"] == "/orders"
    (order,) = orders()
    assert order.status == "new" and str(order.price) == "3.00"
    body = client_web.get("/orders").get_data(as_text=True)
    assert f"#{order.id}" in body and "Hosting Lite" in body and "placed" in body


def test_protection_off_lets_every_order_through(client_web, tariffs):
    body = client_web.get(f"/order/{tariffs['vps']}").get_data(as_text=True)
    assert "More information" not in body
    assert client_web.post_form(f"/order/{tariffs['vps']}", {}).status_code == 302
    assert len(orders()) == 1


def test_verified_phone_lifts_the_banner_and_the_order_goes_through(client_web, client_user, tariffs):
    protect()
    user = db.session.get(User, client_user.id)
    user.phone, user.phone_verified_at = MOBILE_GB, utcnow()
    db.session.commit()
    assert "More information" not in client_web.get(f"/order/{tariffs['vps']}").get_data(as_text=True)
    assert client_web.post_form(f"/order/{tariffs['vps']}", {}).status_code == 302
    assert len(orders()) == 1


def test_place_order_refuses_with_a_stable_code_for_the_api(app, client_user, tariffs):
    protect()
    user, tariff = db.session.get(User, client_user.id), db.session.get(Tariff, tariffs["vps"])
    with pytest.raises(ordering.OrderRefused) as refused:
        ordering.place_order(user, tariff)
    assert refused.value.code == "phone_verification_required"
    assert ordering.place_order(user, db.session.get(Tariff, tariffs["hosting"])).id


def test_unknown_tariff_is_404_and_staff_cannot_order(client_web, staff_user, app, tariffs):
    assert client_web.get("/order/99999").status_code == 404
    staff = WebClient(app.test_client())
    staff.login("boss", "staff password 1")
    assert staff.get("/order").status_code == 403
    assert staff.get("/verify-phone").status_code == 403


def test_anonymous_visitors_are_sent_to_login(web, tariffs):
    for path in ("/order", f"/order/{tariffs['vps']}", "/verify-phone", "/orders"):
        response = web.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_orders_page_pages_by_key_in_the_same_queries_for_any_rows(app, client_web, client_user, tariffs):
    with app.app_context():
        engine = db.engine  # the app's, not the test body's twin

    def add_orders(count):
        for n in range(count):
            tariff_id = list(tariffs.values())[n % len(tariffs)]
            db.session.add(Order(client_id=client_user.client_id, user_id=client_user.id, tariff_id=tariff_id,
                                 status="new", price=Decimal("1.00")))
        db.session.commit()

    def statements_of(path):
        with recorded(engine) as statements:
            body = client_web.get(path).get_data(as_text=True)
        return body, len(statements)

    add_orders(3)
    _body, few = statements_of("/orders")
    add_orders(52)
    first, many = statements_of("/orders")
    assert many == few  # tariffs and services come in the page's one query
    assert first.count("<tr><td>#") == 50 and "Newer" not in first
    older = re.search(r'href="(/orders\?before=\d+)"', first).group(1)
    second = client_web.get(older).get_data(as_text=True)
    assert second.count("<tr><td>#") == 5 and "Dedicated E3" in second and "Newer" in second
    ids = re.findall(r"<tr><td>#(\d+)<", first + second)
    assert len(set(ids)) == 55 and ids == sorted(ids, key=int, reverse=True)


def test_a_number_saved_but_not_verified_does_not_lift_the_check(client_web, client_user, tariffs):
    """General settings stores a number with the password alone: until it is verified, covered
    services stay refused, on the form and in place_order."""
    protect()
    saved = client_web.post_form("/settings/phone", {"phone": MOBILE_GB, "current_password": "client password 1"},
                                 page_url="/settings/general")
    assert saved.status_code == 302
    user = db.session.get(User, client_user.id)
    assert user.phone == MOBILE_GB and user.phone_verified_at is None
    assert "More information" in client_web.get(f"/order/{tariffs['vps']}").get_data(as_text=True)
    token_page = f"/order/{tariffs['hosting']}"
    assert client_web.post_form(f"/order/{tariffs['vps']}", {}, page_url=token_page).status_code == 403
    with pytest.raises(ordering.OrderRefused):
        ordering.place_order(user, db.session.get(Tariff, tariffs["e3"]))
    assert orders() == []


def test_place_order_refuses_staff_with_a_stable_code(app, staff_user, tariffs):
    """The routes' function check is one guard; the service is the last (a script, a future route)."""
    with pytest.raises(ordering.OrderRefused) as refused:
        ordering.place_order(db.session.get(User, staff_user.id), db.session.get(Tariff, tariffs["hosting"]))
    assert refused.value.code == "not_a_client"
    assert orders() == []


@pytest.mark.parametrize("for_its_provider", [False, True])
def test_the_check_follows_the_switch_of_the_users_own_provider(app, factories, tariffs, for_its_provider):
    web = client_of_a_second_provider(app, factories, {"enabled": True}, for_its_provider)
    assert ("More information" in web.get(f"/order/{tariffs['vps']}").get_data(as_text=True)) is for_its_provider


def test_a_member_without_the_order_right_can_neither_order_nor_ask_for_codes(app, client_user, factories, tariffs):
    """Ordering, and the texts on the way to it, need "Order services": an account of the client is not enough."""
    protect()
    factories.client_user(email="member@example.com", client=client_user.client)
    member = WebClient(app.test_client())
    member.login("member@example.com", "client password 1")
    assert member.get(f"/order/{tariffs['hosting']}").status_code == 403
    for path in (f"/order/{tariffs['hosting']}", "/verify-phone/send", "/verify-phone/check", "/verify-phone/cancel"):
        response = member.post_form(path, {"phone": MOBILE_GB, "code": "123456"}, page_url="/settings/general")
        assert response.status_code == 403, path
    assert orders() == [] and sms_count() == 0


def test_the_demo_covers_dedicated_servers_once_and_keeps_a_choice_staff_made(app):
    demo.seed_demo()
    covered = {tariff.name for tariff in db.session.execute(select(Tariff)).scalars() if fraud.is_covered(tariff)}
    assert covered == {"Dedicated E3", "Dedicated Gold"} and settings.get(fraud.ENABLED) is True
    settings.update({fraud.ENABLED: False})  # staff switch it off
    db.session.commit()
    demo.seed_demo()
    assert settings.get(fraud.ENABLED) is False
