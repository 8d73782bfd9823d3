"""Recovery by SMS code: the real Vonage SDK against its loopback server."""

import re
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update

from portal.extensions import db
from portal.models import AuthEvent, RecoveryLink, ResetCode, SecondFactor
from portal.models.base import utcnow
from portal.services import background, settings
from portal.services.personal_data import registered
from portal.services.recovery import DAILY_WRONG_CODES
from tests.recovery_helpers import (
    NEW,
    PHONE,
    ask,
    code_step,
    page_text,
    resend,
    set_password,
    sms_code,
    sms_user,
)
from tests.web import WebClient


def test_sms_code_leads_to_the_reset_page(sms_web, vonage, factories):
    sms_user(factories)
    settings.update({"fraud.brand": "AcmeHost"})
    db.session.commit()
    response = ask(sms_web, "phone@example.com", channel="sms")
    assert response.headers["Location"] == "/recover/code"
    text = vonage.messages_to(PHONE.removeprefix("+"))[-1]["text"]
    assert text.startswith("Your AcmeHost password recovery code is ")
    code = re.search(r"\b(\d{6})\b", text).group(1)
    reset = code_step(sms_web, code)
    assert reset.headers["Location"].startswith("/recover/reset/")
    assert set_password(sms_web, reset.headers["Location"]).headers["Location"] == "/login"
    assert WebClient(sms_web.application.test_client()).login("phone@example.com", NEW).headers["Location"] == "/home"


def test_an_sms_vonage_refuses_is_logged_with_the_number_masked(sms_web, vonage, factories, caplog):
    sms_user(factories)
    vonage.fail_with(500)
    assert ask(sms_web, "phone@example.com", channel="sms").headers["Location"] == "/recover/code"
    failure = [r.getMessage() for r in caplog.records if "Vonage SMS" in r.getMessage()]
    assert failure and "+44*******321" in failure[0]
    assert PHONE not in caplog.text and PHONE[1:-4] not in caplog.text


def test_sms_code_checks_are_throttled_per_recovery_attempt(make_app, vonage, factories):
    """A recovery attempt (its ticket) gets a few code checks, wherever they come from; a request
    without a ticket is not counted against anyone."""
    sms_user(factories)
    app = make_app(**vonage.app_config(), RATELIMIT_RECOVERY_CODE_PER_ACCOUNT="3 per hour")
    stray = WebClient(app.test_client())
    assert [stray.post_form("/recover/code", {"code": "000000"}, page_url="/recover").status_code
            for _ in range(4)] == [302] * 4  # no ticket: sent to /recover, never 429
    web = WebClient(app.test_client())
    ask(web, "phone@example.com", channel="sms")
    assert [code_step(web, "000000").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_sms_wrong_codes_kill_the_code_and_resend_keeps_the_count(sms_web, vonage, factories):
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    for left in (4, 3):
        assert f"The code is not correct. {left} tries left." in code_step(
            sms_web, "000000").get_data(as_text=True)
    sms_web.post_form("/recover/code/resend", {}, page_url="/recover/code")
    assert len(vonage.messages_to(PHONE.removeprefix("+"))) == 2
    code = re.search(r"\b(\d{6})\b", vonage.messages_to(PHONE.removeprefix("+"))[-1]["text"]).group(1)
    for _ in range(2):
        code_step(sms_web, "000000")
    body = code_step(sms_web, "000001").get_data(as_text=True)
    assert "This code is no longer valid." in body
    assert "This code is no longer valid." in code_step(sms_web, code).get_data(as_text=True)


def test_sms_code_expires(sms_web, vonage, factories):
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    code = re.search(r"\b(\d{6})\b", vonage.messages_to(PHONE.removeprefix("+"))[-1]["text"]).group(1)
    row = db.session.execute(select(ResetCode)).scalar_one()
    assert row.expires_at - row.created_at <= timedelta(minutes=10) and code not in row.code_hash
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert "This code is no longer valid." in code_step(sms_web, code).get_data(as_text=True)


def test_sms_only_to_a_verified_phone_and_the_same_answer(sms_web, vonage, factories):
    factories.client_user(email="unverified@example.com", phone=PHONE)
    unverified = ask(sms_web, "unverified@example.com", channel="sms")
    step_unverified = page_text(sms_web.get("/recover/code"))
    wrong_unverified = page_text(code_step(sms_web, "123456"))
    other = WebClient(sms_web.application.test_client())
    unknown = ask(other, "ghost@example.com", channel="sms")
    assert unverified.headers["Location"] == unknown.headers["Location"] == "/recover/code"
    assert page_text(other.get("/recover/code")) == step_unverified
    assert page_text(code_step(other, "123456")) == wrong_unverified
    assert vonage.sent == []


def test_sms_code_checks_are_throttled_per_address_across_attempts(make_app, vonage, factories):
    """New recovery attempts do not buy one address new code checks: the per-IP limit holds."""
    sms_user(factories)
    app = make_app(**vonage.app_config(), RATELIMIT_RECOVERY_CODE_PER_IP="2 per hour")
    first, second = WebClient(app.test_client()), WebClient(app.test_client())
    ask(first, "phone@example.com", channel="sms")
    ask(second, "nobody@example.com", channel="sms")
    statuses = [code_step(first, "000000").status_code for _ in range(2)]
    statuses.append(code_step(second, "000000").status_code)
    assert statuses == [200, 200, 429]


def test_wrong_sms_codes_count_toward_the_address_lock(app, sms_web, vonage, factories, client_user):
    """Guessing recovery codes is guessing credentials: the address that does it gets locked out."""
    sms_user(factories)
    settings.update({"lockout.ip_failures": 2})
    db.session.commit()
    ask(sms_web, "phone@example.com", channel="sms")
    for _ in range(2):
        assert "The code is not correct." in code_step(sms_web, "000000").get_data(as_text=True)
    answer = WebClient(sms_web.application.test_client()).post_form(
        "/login", {"login": "client@example.com", "password": "client password 1"})
    assert answer.status_code == 200  # refused, the right password too
    assert "Too many failed attempts from your network." in answer.get_data(as_text=True)


def test_a_recovery_code_never_reaches_the_app_log(sms_web, vonage, factories, caplog, monkeypatch):
    """When Vonage refuses the text, the log says so, without the code it carried."""
    monkeypatch.setattr(secrets, "randbelow", lambda _n: 424242)  # the code this test looks for
    sms_user(factories)
    vonage.fail_with(500)
    assert ask(sms_web, "phone@example.com", channel="sms").headers["Location"] == "/recover/code"
    assert background.settle()
    assert "recovery code SMS" in caplog.text and "not sent" in caplog.text
    assert "424242" not in caplog.text


def test_a_password_change_kills_an_sms_code_in_flight(app, sms_web, vonage, factories):
    """Someone holding the owner's phone for a moment must not reset the password the owner has
    just changed: the change drops the recovery codes still waiting, as it drops the links."""
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    code = re.search(r"\b(\d{6})\b", vonage.messages_to(PHONE.removeprefix("+"))[-1]["text"]).group(1)
    owner = WebClient(app.test_client())
    owner.login("phone@example.com", "client password 1")
    changed = owner.post_form("/settings/general/password", {
        "current_password": "client password 1", "password": NEW, "confirm": NEW}, page_url="/settings/general")
    assert changed.status_code == 302
    assert "This code is no longer valid." in code_step(sms_web, code).get_data(as_text=True)


def test_the_sms_code_step_asks_for_the_captcha_after_failures(sms_web, vonage, factories):
    sms_user(factories)
    settings.update({"captcha.after_failures": 2})
    db.session.commit()
    ask(sms_web, "phone@example.com", channel="sms")
    code = re.search(r"\b(\d{6})\b", vonage.messages_to(PHONE.removeprefix("+"))[-1]["text"]).group(1)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(2):
        code_step(sms_web, wrong)
    assert "<altcha-widget" in sms_web.get("/recover/code").get_data(as_text=True)
    token = sms_web.csrf_token("/recover/code")
    refused = sms_web.client.post("/recover/code", data={"csrf_token": token, "code": code})
    assert refused.status_code == 200 and "Please complete the captcha." in refused.get_data(as_text=True)


def test_recovery_code_checks_are_in_the_auth_log_with_the_account_and_address(sms_web, vonage, factories):
    user = sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    code = re.search(r"\b(\d{6})\b", vonage.messages_to(PHONE.removeprefix("+"))[-1]["text"]).group(1)
    code_step(sms_web, "000000" if code != "000000" else "111111")
    assert code_step(sms_web, code).headers["Location"].startswith("/recover/reset/")
    rows = db.session.execute(select(AuthEvent).where(
        AuthEvent.event.in_(["recovery_code_failed", "recovery_code_accepted"])).order_by(AuthEvent.id)).scalars().all()
    assert [(row.event, row.user_id, row.ip) for row in rows] == [
        ("recovery_code_failed", user.id, "127.0.0.1"), ("recovery_code_accepted", user.id, "127.0.0.1")]
    assert not [row for row in rows if code in f"{row.detail} {row.login}"]


def test_the_link_an_sms_code_opens_lives_as_long_as_a_code(sms_web, vonage, factories):
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    assert code_step(sms_web, sms_code(vonage)).headers["Location"].startswith("/recover/reset/")
    link = db.session.execute(select(RecoveryLink)).scalar_one()
    assert link.purpose == "sms" and link.expires_at - link.created_at <= timedelta(minutes=10)


def test_an_sms_code_works_once_even_for_a_kept_ticket(sms_web, vonage, factories):
    """A browser that kept its ticket (a copied cookie) cannot spend the right code a second time."""
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    code = sms_code(vonage)
    copy = WebClient(sms_web.application.test_client())
    name = sms_web.application.config["SESSION_COOKIE_NAME"]
    copy.set_cookie(name, sms_web.get_cookie(name).value)
    assert code_step(sms_web, code).headers["Location"].startswith("/recover/reset/")
    again = code_step(copy, code)
    assert again.status_code == 200 and "This code is no longer valid." in again.get_data(as_text=True)


def test_resends_are_limited_per_attempt(sms_web, vonage, factories):
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    for _ in range(2):
        resend(sms_web)
    assert "No more codes can be sent" in sms_web.get(resend(sms_web).headers["Location"]).get_data(as_text=True)
    assert len(vonage.messages_to(PHONE.removeprefix("+"))) == 3


def test_a_dead_code_is_not_resent(sms_web, vonage, factories):
    """Once the wrong tries are spent, the attempt is over: no new text for it."""
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    for _ in range(5):
        code_step(sms_web, "000000" if sms_code(vonage) != "000000" else "111111")
    page = sms_web.get(resend(sms_web).headers["Location"]).get_data(as_text=True)
    assert "This code is no longer valid." in page
    assert len(vonage.messages_to(PHONE.removeprefix("+"))) == 1


def test_a_resend_goes_only_to_a_phone_that_still_takes_codes(sms_web, vonage, factories):
    """The number was unverified since the attempt began: the resend texts nobody."""
    user = sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    user.phone_verified_at = None
    db.session.commit()
    resend(sms_web)
    assert len(vonage.messages_to(PHONE.removeprefix("+"))) == 1


def test_a_resend_gives_the_code_its_full_lifetime_again(sms_web, vonage, factories):
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    db.session.execute(update(ResetCode).values(expires_at=utcnow() + timedelta(seconds=30)))
    db.session.commit()
    resend(sms_web)
    row = db.session.execute(select(ResetCode)).scalar_one()
    assert row.expires_at > utcnow() + timedelta(minutes=9)


def test_recovery_codes_use_all_six_digits(sms_web, vonage, factories, monkeypatch):
    monkeypatch.setattr(secrets, "randbelow", lambda n: n - 1)  # the highest code each draw allows
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    resend(sms_web)
    texts = [m["text"] for m in vonage.messages_to(PHONE.removeprefix("+"))]
    assert len(texts) == 2 and all("code is 999999." in text for text in texts)


def test_the_resend_answers_the_same_for_unknown_and_real_accounts(sms_web, vonage, factories):
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    real = page_text(sms_web.get(resend(sms_web).headers["Location"]))
    other = WebClient(sms_web.application.test_client())
    ask(other, "ghost@example.com", channel="sms")
    assert page_text(other.get(resend(other).headers["Location"])) == real
    assert "a new code is on its way" in real


def test_gdpr_erasure_finds_the_recovery_codes(sms_web, vonage, factories):
    user = sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    (entry,) = [e for e in registered() if e.name == "recovery_link_and_code"]
    assert entry.erase([user.id]) == 1
    db.session.commit()
    assert db.session.execute(select(ResetCode)).first() is None


def test_no_auth_event_carries_a_recovery_code(sms_web, vonage, factories):
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    resend(sms_web)
    codes = {re.search(r"\b(\d{6})\b", m["text"]).group(1) for m in vonage.messages_to(PHONE.removeprefix("+"))}
    logged = " ".join(f"{e.detail} {e.login}" for e in db.session.execute(select(AuthEvent)).scalars())
    assert codes and not [code for code in codes if code in logged]


def test_every_request_that_gets_nothing_is_in_the_auth_log_with_what_was_typed(sms_web, vonage, factories):
    denied = factories.client_user(email="denied@example.com", access_denied=True)
    unverified = factories.client_user(email="unverified@example.com", phone=PHONE)
    ask(sms_web, "ghost@example.com")
    ask(sms_web, "denied@example.com")
    ask(sms_web, "unverified@example.com", channel="sms")
    refused = db.session.execute(select(AuthEvent.login, AuthEvent.user_id)
                                 .where(AuthEvent.event == "recovery_refused").order_by(AuthEvent.id)).all()
    assert [tuple(row) for row in refused] == [("ghost@example.com", None), ("denied@example.com", denied.id),
                                               ("unverified@example.com", unverified.id)]
    assert vonage.sent == []


def test_an_account_takes_ten_wrong_recovery_codes_a_day_then_no_code_works_for_it(sms_web, vonage, factories):
    """Each attempt brings a fresh code with its own tries: the account's day of wrong codes bounds
    the guessing. Past it no code is texted or taken, the right one included, with the answers of a
    wrong code; a day on, codes work again."""
    user = sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    code = sms_code(vonage)
    db.session.add_all([AuthEvent(event="recovery_code_failed", user_id=user.id)  # other attempts' guesses
                        for _ in range(DAILY_WRONG_CODES)])
    db.session.commit()
    assert "The code is not correct. 4 tries left." in code_step(sms_web, code).get_data(as_text=True)
    texts = len(vonage.messages_to(PHONE.removeprefix("+")))
    fresh = WebClient(sms_web.application.test_client())
    assert ask(fresh, "phone@example.com", channel="sms").headers["Location"] == "/recover/code"  # as ever
    resend(fresh)
    background.settle()
    assert len(vonage.messages_to(PHONE.removeprefix("+"))) == texts  # but nothing was texted

    db.session.execute(update(AuthEvent).where(AuthEvent.user_id == user.id)
                       .values(created_at=utcnow() - timedelta(days=1, minutes=1)))
    db.session.commit()
    later = WebClient(sms_web.application.test_client())
    ask(later, "phone@example.com", channel="sms")
    background.settle()
    assert code_step(later, sms_code(vonage)).headers["Location"].startswith("/recover/reset/")


def test_an_account_that_signs_in_with_sms_codes_recovers_by_email_not_by_its_phone(sms_web, vonage, factories):
    """Else the phone alone (stolen, or its number ported away) would reset the password and then
    take the sign-in code too. The answers are those of any account; the page says why no code came."""
    user = sms_user(factories)
    db.session.add(SecondFactor(user_id=user.id, kind="sms", confirmed_at=utcnow()))
    db.session.commit()
    assert ask(sms_web, "phone@example.com", channel="sms").headers["Location"] == "/recover/code"
    step = page_text(sms_web.get("/recover/code"))
    assert "An account that signs in with SMS codes gets none" in step and "Recover it by email" in step
    resend(sms_web)
    background.settle()
    assert vonage.messages_to(PHONE.removeprefix("+")) == []
    stranger = WebClient(sms_web.application.test_client())
    ask(stranger, "ghost@example.com", channel="sms")
    assert page_text(stranger.get("/recover/code")) == step

    db.session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))  # SMS codes off: codes again
    db.session.commit()
    ask(WebClient(sms_web.application.test_client()), "phone@example.com", channel="sms")
    background.settle()
    assert len(vonage.messages_to(PHONE.removeprefix("+"))) == 1
