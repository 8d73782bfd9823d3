"""Phone verification through the console backend: the flow, code reuse, expiry, wrong tries."""

import time
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.services import phone_verification
from tests.fraud_support import (
    MOBILE_GB,
    MOBILE_GB_2,
    PAGE,
    auth_events,
    check,
    make_catalog,
    orders,
    protect,
    send,
    verifications,
)
from tests.outbox import code_in, messages
from tests.statements import plan, recorded
from tests.web import WebClient


@pytest.fixture
def tariffs(app):
    tariffs = make_catalog()
    protect(resend_cooldown=10)
    return tariffs


def test_whole_flow_back_to_the_order_form_and_order(client_web, client_user, tariffs):
    order_path = f"/order/{tariffs['vps']}"
    response = send(client_web, "+44 7400 123456", next_url=order_path)
    assert response.status_code == 302
    page = client_web.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="code"' in page and MOBILE_GB in page and order_path in page
    response = check(client_web, code_in(MOBILE_GB), next_url=order_path)
    assert response.status_code == 302 and response.headers["Location"] == order_path
    user = db.session.get(User, client_user.id)
    assert user.phone == MOBILE_GB and user.phone_verified_at is not None
    assert "More information" not in client_web.get(order_path).get_data(as_text=True)
    assert client_web.post_form(order_path, {}).status_code == 302 and len(orders()) == 1
    general = client_web.get("/settings/general").get_data(as_text=True)
    assert MOBILE_GB in general and "verified" in general


def test_the_page_says_when_the_number_is_verified_already(client_web, client_user, tariffs):
    assert "is verified already" not in client_web.get("/verify-phone").get_data(as_text=True)
    client_user.phone, client_user.phone_verified_at = MOBILE_GB, utcnow()
    db.session.commit()
    page = client_web.get("/verify-phone").get_data(as_text=True)
    assert f"Your phone number {MOBILE_GB} is verified already" in page and 'name="phone"' in page


def test_steps_swap_in_place_with_htmx(client_web, tariffs):
    response = send(client_web, htmx=True, next_url="/order/1")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert 'id="verify-phone"' in body and 'name="code"' in body and 'value="Verify"' in body
    response = check(client_web, code_in(MOBILE_GB), next_url="/order/1", htmx=True)
    assert response.headers["HX-Redirect"] == "/order/1"


def test_next_must_be_local(client_web, tariffs):
    send(client_web, next_url="https://evil.example/order")
    response = check(client_web, code_in(MOBILE_GB), next_url="//evil.example/")
    assert response.headers["Location"] == "/order"


def test_the_log_has_every_step_and_never_the_code(client_web, tariffs):
    send(client_web)
    code = code_in(MOBILE_GB)
    check(client_web, "000000" if code != "000000" else "111111")
    check(client_web, code)
    names = ["phone_verification_started", "phone_verification_failed", "phone_verified"]
    rows = [row for name in names for row in auth_events(name)]
    assert len(rows) == 3
    assert all(code not in (row.detail or "") and MOBILE_GB not in (row.detail or "") for row in rows)
    assert all(row.ip == "127.0.0.1" for row in rows)
    assert verifications()[0].code_hash and code not in verifications()[0].code_hash


def test_a_code_works_once(client_web, tariffs):
    send(client_web)
    code = code_in(MOBILE_GB)
    assert check(client_web, code).status_code == 302
    body = check(client_web, code).get_data(as_text=True)
    assert "No code is waiting to be checked" in body


def test_an_expired_code_is_refused(client_web, tariffs):
    send(client_web)
    row = verifications()[0]
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    page = client_web.get(PAGE).get_data(as_text=True)
    assert 'name="code"' not in page and 'value="Send code"' in page  # back at the number step
    body = check(client_web, code_in(MOBILE_GB)).get_data(as_text=True)
    assert "This code has expired" in body
    assert db.session.get(User, row.user_id).phone_verified_at is None


def test_wrong_tries_void_the_verification_and_a_resend_does_not_reset_them(client_web, tariffs):
    protect(max_attempts=3, resend_cooldown=1)
    send(client_web)
    code = code_in(MOBILE_GB)
    wrong = "999999" if code != "999999" else "888888"
    assert "2 tries left" in check(client_web, wrong).get_data(as_text=True)
    assert "1 try left" in check(client_web, wrong).get_data(as_text=True)
    time.sleep(1.1)  # the one-second resend cooldown
    send(client_web)  # a resend: the same row, a new code, the tries kept
    assert len(verifications()) == 1 and verifications()[0].sends == 2
    new_code = code_in(MOBILE_GB)
    body = check(client_web, wrong if wrong != new_code else "777777").get_data(as_text=True)
    assert "Too many wrong codes" in body
    assert verifications()[0].status == "failed"
    assert "No code is waiting" in check(client_web, new_code).get_data(as_text=True)
    assert len(auth_events("phone_verification_voided")) == 1


def test_another_number_starts_a_new_verification(client_web, tariffs):
    send(client_web)
    first_code = code_in(MOBILE_GB)
    send(client_web, MOBILE_GB_2)
    assert [v.status for v in verifications()] == ["cancelled", "pending"]
    body = check(client_web, first_code).get_data(as_text=True)
    if first_code != code_in(MOBILE_GB_2):
        assert "not correct" in body


def test_use_another_number_cancels(client_web, tariffs):
    send(client_web)
    response = client_web.post_form("/verify-phone/cancel", {"next": ""}, page_url=PAGE)
    assert response.status_code == 302 and verifications()[0].status == "cancelled"
    assert 'value="Send code"' in client_web.get(PAGE).get_data(as_text=True)


def test_an_already_verified_user_changes_the_number_in_general_settings(client_web, client_user, tariffs):
    user = db.session.get(User, client_user.id)
    user.phone, user.phone_verified_at = MOBILE_GB, utcnow()
    db.session.commit()
    body = send(client_web, MOBILE_GB_2).get_data(as_text=True)
    assert "already verified" in body and verifications() == []


def recovery_texts(number: str) -> int:
    return len([text for text in messages(to=number) if "recovery code" in text.body])


def ask_recovery_by_sms(app, login: str) -> None:
    answer = WebClient(app.test_client()).post_form("/recover", {"login": login, "channel": "sms"})
    assert answer.headers["Location"] == "/recover/code"  # the same answer, texted or not


def test_a_number_added_here_takes_recovery_codes_only_after_a_delay_and_the_owner_is_told(
        app, client_web, client_user, tariffs):
    """This page asks for no password (it sits on the way to an order), so a stolen session could
    add its own number here and then recover the account by SMS: the owner is emailed at once,
    and the number takes recovery codes only PHONE_RECOVERY_DELAY_HOURS later."""
    client_web.client.environ_base["HTTP_HOST"] = "evil.example"  # the notice's link ignores the Host header
    assert send(client_web).status_code == 302
    assert check(client_web, code_in(MOBILE_GB)).status_code == 302
    user = db.session.get(User, client_user.id)
    assert user.has_verified_phone and user.phone_recovery_after > utcnow() + timedelta(hours=23)
    [notice] = messages(to=client_user.email, subject="A phone number")
    assert "change your password and the phone number" in notice.body and MOBILE_GB not in notice.body
    assert "http://portal.test/settings/general" in notice.body and "evil.example" not in notice.body
    ask_recovery_by_sms(app, client_user.email)
    assert recovery_texts(MOBILE_GB) == 0
    security = client_web.get("/settings/security").get_data(as_text=True)  # where SMS codes are turned on
    assert f"{MOBILE_GB[:-4]}****, from {user.phone_recovery_after:%Y-%m-%d %H:%M} UTC" in security

    user.phone_recovery_after = utcnow() - timedelta(minutes=1)  # a day later
    db.session.commit()
    ask_recovery_by_sms(app, client_user.email)
    assert recovery_texts(MOBILE_GB) == 1


def sign_in_texts(number: str) -> int:
    return len([text for text in messages(to=number) if "sign-in code" in text.body])


def ask_for_a_sign_in_code(app, login: str) -> str:
    """The password step in a new browser, then "Send code" on /login/2fa; returns the page after."""
    browser = WebClient(app.test_client())
    assert browser.post_form("/login", {"login": login, "password": "client password 1"}).headers[
        "Location"] == "/login/2fa"
    browser.post_form("/login/2fa/sms", {}, page_url="/login/2fa")
    return browser.get("/login/2fa").get_data(as_text=True)


def test_a_number_added_here_takes_sign_in_codes_only_after_the_same_delay(app, client_web, client_user, tariffs):
    """SMS sign-in codes stay on when the number is cleared in General settings: a stolen session
    that then verified its own number here must not receive the account's sign-in codes at once
    either, or the thief who knows the password would pass the second factor with it."""
    client_user.phone, client_user.phone_verified_at = "+447700900123", utcnow()
    db.session.commit()
    security = "/settings/security"
    client_web.post_form("/settings/security/sms/enable", {"current_password": "client password 1"}, page_url=security)
    cleared = client_web.post_form("/settings/phone", {"phone": "", "current_password": "client password 1"},
                                   page_url="/settings/general")
    assert cleared.status_code == 302
    assert send(client_web).status_code == 302
    assert check(client_web, code_in(MOBILE_GB)).status_code == 302
    user = db.session.get(User, client_user.id)
    [notice] = messages(to=client_user.email, subject="A phone number")
    assert f"It can receive sign-in and password recovery codes from {user.phone_recovery_after:%Y-%m-%d %H:%M} UTC" \
        in notice.body
    page = ask_for_a_sign_in_code(app, client_user.email)
    assert f"it receives sign-in codes from {user.phone_recovery_after:%Y-%m-%d %H:%M} UTC" in page
    assert sign_in_texts(MOBILE_GB) == 0
    assert auth_events("2fa_code_refused")[-1].detail == "sms: the number waits out its delay"

    user.phone_recovery_after = utcnow() - timedelta(minutes=1)  # a day later
    db.session.commit()
    ask_for_a_sign_in_code(app, client_user.email)
    assert sign_in_texts(MOBILE_GB) == 1


def test_turning_on_sms_codes_with_the_password_ends_the_delay_of_a_number_added_here(app, client_web, client_user,
                                                                                     tariffs):
    """The password proves the number is the owner's, as saving it in General settings does: SMS
    sign-in codes turned on right after verifying the number for an order work at once."""
    assert send(client_web).status_code == 302
    assert check(client_web, code_in(MOBILE_GB)).status_code == 302
    assert db.session.get(User, client_user.id).phone_recovery_after > utcnow()
    wrong = client_web.post_form("/settings/security/sms/enable", {"current_password": "wrong password"},
                                 page_url="/settings/security")
    assert "The current password is not correct." in wrong.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, client_user.id).phone_recovery_after > utcnow()  # a session alone ends nothing
    client_web.post_form("/settings/security/sms/enable", {"current_password": "client password 1"},
                         page_url="/settings/security")
    db.session.expire_all()
    assert db.session.get(User, client_user.id).phone_recovery_after is None
    ask_for_a_sign_in_code(app, client_user.email)
    assert sign_in_texts(MOBILE_GB) == 1


def test_saving_a_number_added_here_again_with_the_password_ends_its_delay(app, client_web, client_user, tariffs):
    """The owner who verified the number for an order confirms it in General settings: the password
    proves it is theirs, and it takes codes at once; a wrong password changes nothing."""
    assert send(client_web).status_code == 302
    assert check(client_web, code_in(MOBILE_GB)).status_code == 302
    wrong = client_web.post_form("/settings/phone", {"phone": MOBILE_GB, "current_password": "wrong password"},
                                 page_url="/settings/general")
    assert "The current password is not correct." in wrong.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, client_user.id).phone_recovery_after > utcnow()
    confirmed = client_web.post_form("/settings/phone", {"phone": MOBILE_GB, "current_password": "client password 1"},
                                     page_url="/settings/general")
    told = client_web.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert '<p class="flash flash-success">Your phone number is confirmed: it receives codes from now on.</p>' in told
    db.session.expire_all()
    user = db.session.get(User, client_user.id)
    assert user.phone_recovery_after is None and user.phone_verified_at is not None
    assert auth_events("phone_confirmed")[-1].detail == "+44*******456"
    ask_recovery_by_sms(app, client_user.email)
    assert recovery_texts(MOBILE_GB) == 1
    again = client_web.post_form("/settings/phone", {"phone": MOBILE_GB, "current_password": "client password 1"},
                                 page_url="/settings/general")
    assert "Your phone number is unchanged." in client_web.get(again.headers["Location"]).get_data(as_text=True)


def test_a_number_saved_with_the_password_takes_recovery_codes_once_verified(app, client_web, client_user, tariffs):
    saved = client_web.post_form("/settings/phone", {"phone": MOBILE_GB, "current_password": "client password 1"},
                                 page_url="/settings/general")
    assert saved.status_code == 302
    assert send(client_web).status_code == 302
    assert check(client_web, code_in(MOBILE_GB)).status_code == 302
    assert db.session.get(User, client_user.id).phone_recovery_after is None
    ask_recovery_by_sms(app, client_user.email)
    assert recovery_texts(MOBILE_GB) == 1


def test_the_reused_number_check_reads_both_tables_by_index(app, factories):
    """The statement the check sends, explained: accounts by ix_user_phone, verifications by the
    number's index; no scan of every user (PostgreSQL is told to avoid scans it could avoid)."""
    user = factories.client_user()
    db.session.commit()
    db.session.refresh(user)  # loaded now, so that the check sends its statement alone
    with recorded(db.engine, with_parameters=True) as sent:
        phone_verification._verified_elsewhere(user, "+447700900001")
    [(statement, parameters)] = sent
    explained = plan(db.session.connection(), statement, parameters)
    assert "ix_user_phone" in explained and "ix_phone_verification_number_created_at" in explained


def test_the_code_has_the_length_and_lifetime_staff_chose(client_web, tariffs):
    """Fraud protection's "Code length" and "Code validity, seconds" are what the code gets."""
    protect(code_length=8, code_validity=120, resend_cooldown=10)
    send(client_web)
    code = code_in(MOBILE_GB)
    assert len(code) == 8 and code.isdigit()
    (row,) = verifications()
    assert row.expires_at - row.sent_at == timedelta(seconds=120)
    assert check(client_web, code).status_code == 302


def test_a_number_changed_in_general_settings_drops_the_code_waiting(client_web, client_user, tariffs):
    """The change made with the password wins: the code sent to the old number verifies nothing."""
    send(client_web)
    code = code_in(MOBILE_GB)
    changed = client_web.post_form("/settings/phone", {"phone": MOBILE_GB_2, "current_password": "client password 1"},
                                   page_url="/settings/general")
    assert changed.status_code == 302 and verifications()[0].status == "cancelled"
    assert "No code is waiting" in check(client_web, code).get_data(as_text=True)
    user = db.session.get(User, client_user.id)
    assert user.phone == MOBILE_GB_2 and user.phone_verified_at is None
