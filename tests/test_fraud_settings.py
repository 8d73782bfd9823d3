"""Staff's fraud protection page, and the phone number in General settings."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, ProductType, Tariff, User
from portal.models.base import utcnow
from portal.services import settings
from tests.fraud_support import (
    MOBILE_DE,
    MOBILE_GB,
    auth_events,
    check,
    make_catalog,
    protect,
    send,
)
from tests.outbox import code_in
from tests.web import WebClient

PAGE = "/admin/fraud-protection"
VALID = {"method": "sms_voice", "brand": "Acme", "code_length": "8", "code_validity": "600",
         "max_attempts": "5", "resend_cooldown": "30", "countries": "gb, +49",
         "pattern": r"^(44|49)", "reused_number": "flag", "enabled": "y", "mobile_only": "y"}


def test_staff_save_settings_and_services_tree_with_audit(staff_web):
    ids = make_catalog()
    dedicated = db.session.execute(select(ProductType).where(ProductType.name == "Dedicated server")).scalar_one()
    data = {**VALID, "product_types": [str(dedicated.id)], "tariffs": [str(ids["gold"])]}
    response = staff_web.post_form(PAGE, data)
    assert response.status_code == 302
    assert settings.get("fraud.countries") == ["GB", "+49"] and settings.get("fraud.code_length") == 8
    assert settings.get("fraud.method") == "sms_voice" and settings.get("fraud.enabled") is True
    assert db.session.get(ProductType, dedicated.id).needs_phone_verification
    assert not db.session.get(Tariff, ids["e3"]).needs_phone_verification  # unticked
    assert db.session.get(Tariff, ids["gold"]).needs_phone_verification
    assert not db.session.get(Tariff, ids["vps"]).product_type.needs_phone_verification
    audits = {row.action: row.changes for row in db.session.execute(select(AuditEvent)).scalars()}
    assert audits["fraud_settings_changed"]["fraud.code_length"] == [6, 8]
    assert audits["fraud_services_changed"]["Virtual server"] == [True, False]
    assert audits["fraud_services_changed"]["Dedicated server / Dedicated E3"] == [True, False]
    body = staff_web.get(PAGE).get_data(as_text=True)
    assert 'value="GB, +49"' in body and "Dedicated Gold" in body


def test_bad_values_are_shown_next_to_the_field_and_kept(staff_web):
    make_catalog()
    data = {**VALID, "countries": "GB, Narnia", "pattern": "([", "code_length": "3"}
    response = staff_web.post_form(PAGE, data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Narnia is neither a country code" in body and "not a valid regular expression" in body
    assert "Number must be between 4 and 10" in body and 'value="(["' in body
    assert settings.get("fraud.enabled") is False


def test_a_refused_country_list_comes_back_as_typed(staff_web):
    make_catalog()
    response = staff_web.post_form(PAGE, {**VALID, "countries": "GB, XX, +49"})
    body = response.get_data(as_text=True)
    assert "XX is neither a country code" in body
    assert 'value="GB, XX, +49"' in body
    assert response.status_code == 422 and settings.get("fraud.countries") == []  # nothing saved


def test_staff_switch_on_the_line_type_lookup(make_app, vonage, staff_user):
    staff = WebClient(make_app(**vonage.app_config()).test_client())
    staff.login("boss", "staff password 1")
    make_catalog()
    page = staff.get(PAGE).get_data(as_text=True)
    assert "Check the line type with Vonage Number Insight" in page and "Vonage bills each lookup" in page
    assert staff.post_form(PAGE, {**VALID, "line_type_lookup": "y"}).status_code == 302
    assert settings.get("fraud.line_type_lookup") is True
    assert '<input checked id="line_type_lookup"' in staff.get(PAGE).get_data(as_text=True)
    assert staff.post_form(PAGE, VALID).status_code == 302  # unticked: off again
    audits = db.session.execute(select(AuditEvent.changes).where(AuditEvent.action == "fraud_settings_changed")
                                .order_by(AuditEvent.id)).scalars()
    assert [changes["fraud.line_type_lookup"] for changes in audits] == [[False, True], [True, False]]


def test_the_line_type_lookup_needs_vonage_credentials(staff_web):
    make_catalog()
    response = staff_web.post_form(PAGE, {**VALID, "line_type_lookup": "y"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Vonage is not configured on this server (VONAGE_API_KEY and VONAGE_API_SECRET" in body
    # the field sits far down the page: the top says that nothing was saved
    assert body.index("Nothing was saved: correct the fields marked below.") < body.index('name="enabled"')
    assert settings.get("fraud.line_type_lookup") is False and settings.get("fraud.enabled") is False


def test_the_line_type_lookup_needs_mobile_numbers_only(make_app, vonage, staff_user):
    staff = WebClient(make_app(**vonage.app_config()).test_client())
    staff.login("boss", "staff password 1")
    make_catalog()
    form = {key: value for key, value in {**VALID, "line_type_lookup": "y"}.items() if key != "mobile_only"}
    response = staff.post_form(PAGE, form)
    assert response.status_code == 422
    assert "This check works only with “Mobile numbers only”" in response.get_data(as_text=True)
    assert settings.get("fraud.line_type_lookup") is False


def test_flagged_numbers_are_listed_for_staff(staff_web, app, factories):
    make_catalog()
    protect(reused_number="flag")
    factories.client_user(email="first@example.com", phone=MOBILE_GB, phone_verified_at=utcnow())
    factories.client_user(email="second@example.com")
    second = WebClient(app.test_client())
    second.login("second@example.com", "client password 1")
    send(second, MOBILE_GB)
    check(second, code_in(MOBILE_GB))
    body = staff_web.get(PAGE).get_data(as_text=True)
    assert "second@example.com" in body and MOBILE_GB in body


def test_clients_and_limited_staff_may_not_open_the_page(client_web, app, factories):
    assert client_web.get(PAGE).status_code == 403
    factories.staff(login="clerk", password="staff password 1")
    clerk = WebClient(app.test_client())
    clerk.login("clerk", "staff password 1")
    assert clerk.get(PAGE).status_code == 403


def test_changing_the_phone_needs_the_password_and_clears_verified(client_web, client_user):
    user = db.session.get(User, client_user.id)
    user.phone, user.phone_verified_at = MOBILE_GB, utcnow()
    db.session.commit()
    page = client_web.get("/settings/general").get_data(as_text=True)
    assert MOBILE_GB in page and "badge ok" in page and "Current password" in page
    wrong = client_web.post_form("/settings/phone", {"phone": MOBILE_DE, "current_password": "nope"},
                                 page_url="/settings/general")
    body = wrong.get_data(as_text=True)
    assert "The current password is not correct" in body and f'value="{MOBILE_DE}"' in body
    assert db.session.get(User, client_user.id).phone == MOBILE_GB
    assert len(auth_events("phone_change_failed")) == 1
    ok = client_web.post_form("/settings/phone", {"phone": "+49 151 23456789",
                                                  "current_password": "client password 1"},
                              page_url="/settings/general")
    assert ok.status_code == 302
    user = db.session.get(User, client_user.id)
    assert user.phone == MOBILE_DE and user.phone_verified_at is None
    assert "not verified" in client_web.get("/settings/general").get_data(as_text=True)
    assert MOBILE_DE not in auth_events("phone_changed")[0].detail


def test_phone_change_with_htmx_swaps_the_card(client_web):
    response = client_web.htmx("POST", "/settings/phone", page_url="/settings/general",
                               data={"phone": "garbage", "current_password": "client password 1"})
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="phone-settings"' in body and "international form" in body


def test_saving_the_same_phone_number_says_so_as_information(client_web):
    form = {"phone": MOBILE_DE, "current_password": "client password 1"}
    saved = client_web.post_form("/settings/phone", form, page_url="/settings/general", follow_redirects=True)
    assert '<p class="flash flash-success">Phone number saved.' in saved.get_data(as_text=True)
    again = client_web.post_form("/settings/phone", form, page_url="/settings/general", follow_redirects=True)
    assert '<p class="flash flash-info">Your phone number is unchanged.</p>' in again.get_data(as_text=True)
    swapped = client_web.htmx("POST", "/settings/phone", page_url="/settings/general", data=form)
    assert '<p class="flash flash-info">Your phone number is unchanged.</p>' in swapped.get_data(as_text=True)


def test_phone_changes_are_throttled_like_every_current_password_field(make_app, factories):
    factories.client_user(email="often@example.com")
    web = WebClient(make_app(RATELIMIT_PHONE_CHANGE_PER_ACCOUNT="2 per hour").test_client())
    web.login("often@example.com", "client password 1")
    statuses = [web.post_form("/settings/phone", {"phone": MOBILE_DE, "current_password": "guess"},
                              page_url="/settings/general").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
