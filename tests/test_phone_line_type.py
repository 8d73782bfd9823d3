"""Mobile numbers only where the digits cannot tell (US, Canada): the line type from Vonage Number
Insight, through the real SDK and the loopback Vonage server, on the /verify-phone page."""

import logging
import time

import pytest

from portal.extensions import db
from portal.models import User
from tests.fraud_support import (
    LANDLINE_GB,
    MOBILE_GB,
    auth_events,
    check,
    client_on_vonage,
    protect,
    send,
    verifications,
)

US = "+12015550123"
CANADA = "+16135550123"
NOT_MOBILE = "Only mobile numbers are accepted. Enter a mobile number."
TRY_LATER = "We could not check this number right now. Please try again in a few minutes."


@pytest.fixture
def lweb(make_app, vonage, client_user):
    """A signed-in client; Vonage is the SMS backend and mobile-only numbers are looked up."""
    web = client_on_vonage(make_app, vonage)
    protect(mobile_only=True, line_type_lookup=True)
    return web


def lookups_made(vonage) -> list[dict]:
    return [r for r in vonage.requests if r["path"].startswith("/ni/")]


@pytest.mark.parametrize("network_type", ["landline", "virtual", "landline_premium", "unknown"])
def test_a_number_vonage_does_not_call_mobile_is_refused_before_any_code(lweb, vonage, network_type):
    vonage.set_line_type(US, network_type)
    response = send(lweb, US)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and NOT_MOBILE in body and f'value="{US}"' in body
    assert vonage.lookups == [US[1:]] and lookups_made(vonage)[0]["auth"] == "basic"
    assert verifications() == [] and vonage.sent == [] and vonage.verifications == {}
    (refused,) = auth_events("phone_verification_refused")
    assert refused.detail.endswith(f"not_mobile: {network_type}") and US not in refused.detail


@pytest.mark.parametrize("number", [US, CANADA])
def test_a_mobile_by_vonage_gets_its_code_and_is_verified(lweb, vonage, client_user, number):
    vonage.set_line_type(number, "mobile")
    assert send(lweb, number).status_code == 302
    assert vonage.lookups == [number[1:]]
    (row,) = verifications()
    assert row.number == number and vonage.verifications[row.request_id].number == number[1:]
    verified = check(lweb, vonage.code_for(number), next_url="/order/1")
    assert verified.headers["Location"] == "/order/1"
    assert db.session.get(User, client_user.id).phone == number


def test_a_resend_to_the_pending_number_is_not_looked_up_again(lweb, vonage):
    """Each lookup is billed: the number was looked up when its verification began."""
    protect(resend_cooldown=1)
    vonage.set_line_type(US, "mobile")
    vonage.set_line_type(CANADA, "mobile")
    assert send(lweb, US).status_code == 302
    time.sleep(1.1)  # the one-second resend cooldown
    assert send(lweb, US).status_code == 302 and verifications()[0].sends == 2
    assert vonage.lookups == [US[1:]]
    time.sleep(1.1)
    assert send(lweb, CANADA).status_code == 302  # another number: looked up
    assert vonage.lookups == [US[1:], CANADA[1:]]


@pytest.mark.parametrize("switches", [{"line_type_lookup": False}, {"mobile_only": False}])
def test_without_both_switches_nothing_is_looked_up(lweb, vonage, switches):
    """Today's behaviour: libphonenumber's "fixed line or mobile" passes as mobile, unasked."""
    protect(**switches)
    vonage.set_line_type(US, "landline")
    assert send(lweb, US).status_code == 302
    assert lookups_made(vonage) == [] and verifications()[0].number == US


def test_numbers_the_digits_decide_are_never_looked_up(lweb, vonage):
    assert NOT_MOBILE in send(lweb, LANDLINE_GB).get_data(as_text=True)
    assert send(lweb, MOBILE_GB).status_code == 302
    assert lookups_made(vonage) == [] and [row.number for row in verifications()] == [MOBILE_GB]


GARBLED = {  # answers a broken proxy or a changed API could give
    "not_json": "<html><body>Down for maintenance</body></html>",
    "no_status": '{"status_message": "ok"}',
    "wrong_type": '{"status": 0, "current_carrier": {"network_type": 5}}',
}


@pytest.mark.parametrize("fault", ["http_500", "insight_status_5", "throttled", "hang", "stop", *GARBLED])
def test_vonage_failing_the_lookup_asks_to_retry_and_writes_nothing(lweb, vonage, fault, caplog):
    vonage.set_line_type(US, "mobile")
    if fault in GARBLED:
        vonage.garble_lookups(GARBLED[fault])
    elif fault == "http_500":
        vonage.fail_with(500)
    elif fault == "insight_status_5":
        vonage.fail_lookups(5)
    elif fault == "throttled":
        vonage.fail_lookups(1)
    else:
        getattr(vonage, fault)()
    caplog.set_level(logging.INFO)
    response = send(lweb, US)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and TRY_LATER in body and f'value="{US}"' in body
    assert verifications() == [] and vonage.sent == [] and vonage.verifications == {}
    (error,) = auth_events("phone_verification_error")
    assert error.detail.endswith("line type: VonageLookupFailed")
    assert "line type" in caplog.text and US[2:] not in caplog.text  # logged, the number masked
    vonage.reset()
    vonage.start()
    vonage.set_line_type(US, "mobile")
    assert send(lweb, US).status_code == 302 and verifications()[0].status == "pending"


def test_credentials_vonage_refuses_are_the_same_retry_message(make_app, vonage, client_user):
    web = client_on_vonage(make_app, vonage, VONAGE_API_SECRET="wrong")
    protect(line_type_lookup=True)
    assert TRY_LATER in send(web, US).get_data(as_text=True)
    assert verifications() == [] and vonage.lookups == [] and len(lookups_made(vonage)) == 1


def test_an_answer_that_names_no_carrier_is_not_a_mobile(lweb, vonage):
    """Number Insight leaves the carrier out when it does not know it: no proof of a mobile line."""
    vonage.garble_lookups('{"status": 0, "status_message": "Success", "request_id": "aaaaaaaa-bbbb-cccc-dddd-'
                          'eeeeeeeeeeee", "international_format_number": "12015550123"}')
    body = send(lweb, US).get_data(as_text=True)
    assert NOT_MOBILE in body and verifications() == [] and vonage.verifications == {}
    assert auth_events("phone_verification_refused")[0].detail.endswith("not_mobile: unknown")
