"""Phone verification through the real vonage SDK and the loopback Vonage server, faults included."""

import time

import pytest

from portal.extensions import db
from portal.models import User
from tests.fraud_support import (
    MOBILE_GB,
    MOBILE_GB_2,
    PAGE,
    auth_events,
    check,
    client_on_vonage,
    protect,
    send,
    verifications,
)
from tests.servers.vonage_api import _problem


@pytest.fixture
def vweb(make_app, vonage, client_user):
    """A signed-in client of an app whose SMS backend is the loopback Vonage."""
    web = client_on_vonage(make_app, vonage)
    protect(method="sms_voice", brand="Acme Hosting", code_length=8)
    return web


def test_code_from_vonage_verifies_the_number(vweb, vonage, client_user):
    assert send(vweb, next_url="/order/1").status_code == 302
    (row,) = verifications()
    assert row.request_id and row.code_hash is None  # the code never reaches us
    started = vonage.verifications[row.request_id]
    assert started.brand == "Acme Hosting" and started.code_length == 8
    assert [step["channel"] for step in started.workflow] == ["sms", "voice"]
    assert check(vweb, vonage.code_for(MOBILE_GB), next_url="/order/1").headers["Location"] == "/order/1"
    assert db.session.get(User, client_user.id).phone == MOBILE_GB
    assert vonage.verifications[row.request_id].status == "completed"


def test_resend_cancels_the_running_request_and_keeps_the_tries(vweb, vonage):
    protect(method="sms", resend_cooldown=1, max_attempts=3)
    send(vweb)
    check(vweb, "00000000")
    first = verifications()[0].request_id
    time.sleep(1.1)  # the one-second resend cooldown
    assert send(vweb).status_code == 302
    (row,) = verifications()
    assert row.request_id != first and row.attempts == 1 and row.sends == 2
    assert vonage.verifications[first].status == "cancelled"
    assert check(vweb, vonage.code_for(MOBILE_GB)).status_code == 302


def test_wrong_codes_void_at_our_limit(vweb, vonage):
    protect(max_attempts=2)
    send(vweb)
    assert "1 try left" in check(vweb, "00000000").get_data(as_text=True)
    assert "Too many wrong codes" in check(vweb, "00000001").get_data(as_text=True)
    assert "No code is waiting" in check(vweb, vonage.code_for(MOBILE_GB)).get_data(as_text=True)


def test_a_request_vonage_has_expired_asks_for_a_new_code(vweb, vonage):
    send(vweb)
    vonage.expire(verifications()[0].request_id)
    body = check(vweb, vonage.code_for(MOBILE_GB)).get_data(as_text=True)
    assert "no longer valid" in body and verifications()[0].status == "expired"


FAULTS = {
    401: "not available. Please contact support",
    429: "Too many messages are being sent right now",
    500: "not reachable right now",
    503: "not reachable right now",
}


@pytest.mark.parametrize("status", sorted(FAULTS))
def test_faults_on_send_show_a_message_keep_the_number_and_allow_a_retry(vweb, vonage, status):
    vonage.fail_with(status)
    response = send(vweb)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and FAULTS[status] in body
    assert f'value="{MOBILE_GB}"' in body  # nothing the customer typed is lost
    assert verifications() == []
    assert [row.detail.split(": ")[1] for row in auth_events("phone_verification_error")] == ["start"]
    vonage.reset()
    assert send(vweb).status_code == 302 and verifications()[0].status == "pending"


@pytest.mark.parametrize("fault", ["hang", "stop"])
def test_vonage_not_answering_is_a_message_not_a_500(vweb, vonage, fault):
    getattr(vonage, fault)()
    response = send(vweb)
    assert response.status_code == 200
    assert "not reachable right now" in response.get_data(as_text=True)
    vonage.reset()
    vonage.start()
    assert send(vweb).status_code == 302


def test_a_fault_while_checking_counts_no_try_and_loses_nothing(vweb, vonage):
    send(vweb)
    code = vonage.code_for(MOBILE_GB)
    vonage.fail_with(503, times=1)
    body = check(vweb, code).get_data(as_text=True)
    assert "not reachable right now" in body and 'name="code"' in body
    assert verifications()[0].attempts == 0 and verifications()[0].status == "pending"
    assert check(vweb, code).status_code == 302


def test_credentials_refused_while_checking(vweb, vonage):
    send(vweb)
    vonage.fail_with(401)
    body = check(vweb, vonage.code_for(MOBILE_GB)).get_data(as_text=True)
    assert "contact support" in body and verifications()[0].status == "pending"


@pytest.fixture
def down_after_a_cancel(vonage, monkeypatch):
    """Vonage cancels a verification, then answers every request with 503."""
    cancel = vonage._cancel

    def cancel_then_go_down(request_id):
        answer = cancel(request_id)
        vonage.fail_with(503)
        return answer
    monkeypatch.setattr(vonage, "_cancel", cancel_then_go_down)


def states(vonage) -> list[tuple[str, str]]:
    """Each verification as our database and Vonage see it."""
    return [(row.status, vonage.verifications[row.request_id].status) for row in verifications()]


def test_vonage_going_down_after_a_cancel_leaves_both_sides_agreeing(vweb, vonage, down_after_a_cancel):
    protect(method="sms", resend_cooldown=10)
    send(vweb)
    assert send(vweb, MOBILE_GB_2).status_code == 302
    assert states(vonage) == [("cancelled", "cancelled"), ("pending", "in_progress")]


def test_a_failed_send_to_another_number_keeps_the_running_code(vweb, vonage, monkeypatch):
    protect(method="sms", resend_cooldown=10)
    send(vweb)
    monkeypatch.setattr(vonage, "_start", lambda request: _problem(503))  # Vonage starts nothing more
    body = send(vweb, MOBILE_GB_2).get_data(as_text=True)
    assert "not reachable right now" in body and f'value="{MOBILE_GB_2}"' in body
    assert states(vonage) == [("pending", "in_progress")]
    assert check(vweb, vonage.code_for(MOBILE_GB)).status_code == 302


def test_a_failed_resend_leaves_no_code_waiting_on_either_side(vweb, vonage, down_after_a_cancel):
    protect(method="sms", resend_cooldown=1)
    send(vweb)
    time.sleep(1.1)  # the one-second resend cooldown
    body = send(vweb).get_data(as_text=True)
    assert "not reachable right now" in body and f'value="{MOBILE_GB}"' in body and 'name="code"' not in body
    assert states(vonage) == [("cancelled", "cancelled")]
    vonage.fail_with(None)
    assert send(vweb).status_code == 302
    assert check(vweb, vonage.code_for(MOBILE_GB)).status_code == 302
    assert [row.status for row in verifications()] == ["cancelled", "verified"]


def test_vonage_is_asked_for_the_code_length_and_lifetime_staff_chose(vweb, vonage):
    """Each channel of the workflow waits "Code validity" seconds; the row expires when the last one does."""
    protect(method="sms_voice", code_length=8, code_validity=120)
    assert send(vweb).status_code == 302
    (row,) = verifications()
    started = vonage.verifications[row.request_id]
    assert started.code_length == 8 and started.channel_timeout == 120
    assert (row.expires_at - row.sent_at).total_seconds() == 2 * 120


CLOSING = {
    "use another number": lambda web: web.post_form("/verify-phone/cancel", {"next": ""}, page_url=PAGE),
    "too many wrong codes": lambda web: check(web, "00000000"),
    "a new number in General settings": lambda web: web.post_form(
        "/settings/phone", {"phone": MOBILE_GB_2, "current_password": "client password 1"},
        page_url="/settings/general"),
}


@pytest.mark.parametrize("action", CLOSING)
def test_a_verification_closed_here_is_cancelled_at_vonage_too(vweb, vonage, action):
    """A request Vonage kept running could never be checked again, yet it would go on calling the
    number and hold it (a new code to it is refused while it runs)."""
    protect(max_attempts=1)
    send(vweb)
    assert CLOSING[action](vweb).status_code in (200, 302)
    [(ours, theirs)] = states(vonage)
    assert ours in ("cancelled", "failed") and theirs == "cancelled"


def test_a_resend_vonage_could_not_cancel_for_keeps_the_running_code(vweb, vonage):
    """Vonage runs one verification per number: had the cancel failed silently, ours would be
    closed while Vonage's kept running, and every new code refused until it lapsed."""
    protect(method="sms", resend_cooldown=1)
    send(vweb)
    time.sleep(1.1)  # the one-second resend cooldown
    vonage.fail_with(503, times=1)  # the resend's first call: the cancel
    assert "not reachable right now" in send(vweb).get_data(as_text=True)
    assert states(vonage) == [("pending", "in_progress")]
    assert check(vweb, vonage.code_for(MOBILE_GB)).status_code == 302
