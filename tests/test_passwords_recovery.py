"""Recovery by email (real SMTP on loopback) and by SMS (the real Vonage SDK against its loopback server)."""

import re
import secrets
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import AuthEvent, RecoveryLink, ResetCode, User
from portal.models.base import utcnow
from portal.services import background, settings
from portal.services.personal_data import registered
from portal.services.recovery import send_password_link
from tests.api_helpers import bearer, make_token
from tests.statements import kinds_of_work
from tests.web import WebClient

NEW = "violet kettle under moonlight"
PHONE = "+447700900321"


@pytest.fixture
def mail_web(make_app, smtp):
    return WebClient(make_app(**smtp.app_config(), PUBLIC_URL="https://portal.example").test_client())


@pytest.fixture
def sms_web(make_app, vonage):
    return WebClient(make_app(**vonage.app_config()).test_client())


def ask(web, login, channel="email"):
    return web.post_form("/recover", {"login": login, "channel": channel})


def reset_path(smtp, email):
    mail = smtp.wait_for(lambda m: email in m.to)
    link = mail.links[0]
    assert link.startswith("https://portal.example/recover/reset/")  # PUBLIC_URL, not the Host
    return link.removeprefix("https://portal.example")


def set_password(web, path, password=NEW, confirm=None):
    return web.post_form(path, {"password": password, "confirm": confirm or password})


def page_text(response):
    return re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", response.get_data(as_text=True))


def test_email_link_resets_once_ends_sessions_and_notifies(app, mail_web, smtp, client_user):
    signed_in = WebClient(app.test_client())
    signed_in.login("client@example.com", "client password 1", remember=True)
    secret = make_token(signed_in)
    assert "Check your email" in ask(mail_web, "client@example.com").get_data(as_text=True)
    path = reset_path(smtp, "client@example.com")
    assert mail_web.get(path).status_code == 200  # the GET only shows the form
    assert set_password(mail_web, path).headers["Location"] == "/login"
    assert signed_in.get("/home").status_code == 302
    assert app.test_client().get("/api/v1/whoami", headers=bearer(secret)).status_code == 401
    notice = smtp.wait_for(lambda m: m.subject == "Your password was reset")
    assert NEW not in notice.body
    assert WebClient(app.test_client()).login("client@example.com", NEW).status_code == 302
    again = mail_web.get(path)
    assert again.status_code == 302 and again.headers["Location"] == "/recover"
    events = db.session.execute(select(AuthEvent.event)).scalars().all()
    assert "recovery_link_sent" in events and "password_reset" in events
    assert all(path.rsplit("/", 1)[1] not in (e.detail or "") for e in
               db.session.execute(select(AuthEvent)).scalars())


def test_policy_applies_at_reset_with_the_reason(mail_web, smtp, client_user):
    ask(mail_web, "client@example.com")
    path = reset_path(smtp, "client@example.com")
    body = set_password(mail_web, path, password="password").get_data(as_text=True)
    assert "Use at least 12 characters." in body
    body = set_password(mail_web, path, password="client user pass 9").get_data(as_text=True)
    assert "Do not use your login, email or name in the password." in body
    assert set_password(mail_web, path).status_code == 302


def test_policy_and_mismatch_are_shown_together_at_reset(mail_web, smtp, client_user):
    ask(mail_web, "client@example.com")
    path = reset_path(smtp, "client@example.com")
    response = set_password(mail_web, path, password="short", confirm="short2")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<p class="error" id="password-error">Use at least 12 characters.</p>' in body
    assert '<p class="error" id="confirm-error">The passwords do not match.</p>' in body
    assert set_password(mail_web, path).status_code == 302  # the link still works


def test_newer_link_kills_the_older_and_expiry_kills_both(mail_web, smtp, client_user):
    ask(mail_web, "client@example.com")
    first = reset_path(smtp, "client@example.com")
    smtp.reset()
    ask(mail_web, "client@example.com")
    second = reset_path(smtp, "client@example.com")
    assert mail_web.get(first).headers["Location"] == "/recover"
    assert mail_web.get(second).status_code == 200
    db.session.execute(update(RecoveryLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert mail_web.get(second).headers["Location"] == "/recover"


def test_links_are_mailed_after_the_answer_and_the_newest_delivered_one_works(make_app, smtp, client_user):
    """The relay's time must not show in the answer (a stranger's request hands nothing over);
    two requests queued behind a slow relay leave the newer link alive."""
    app = make_app(**smtp.app_config(), PUBLIC_URL="https://portal.example", MAIL_TIMEOUT=5)
    web = WebClient(FlaskClient(app, app.response_class, use_cookies=True))  # does not wait for deliveries
    smtp.hold()
    try:
        for _ in range(2):
            answer = ask(web, "client@example.com")
            assert answer.status_code == 200 and "Check your email" in answer.get_data(as_text=True)
        assert smtp.messages == []  # both answered while the relay still held the first message
    finally:
        smtp.release()
    assert background.settle()
    first, second = (mail.links[0].removeprefix("https://portal.example") for mail in smtp.messages)
    assert web.get(first).headers["Location"] == "/recover"
    assert set_password(web, second).headers["Location"] == "/login"
    [sent] = db.session.execute(select(AuthEvent).where(AuthEvent.event == "recovery_link_sent")
                                .order_by(AuthEvent.id.desc()).limit(1)).scalars()
    assert (sent.user_id, sent.ip) == (client_user.id, "127.0.0.1")  # the request's address, written later


def test_a_link_leaves_only_once_the_request_is_over(make_app, smtp, client_user):
    """Handed over beside the request, a link would slow the very answer that must not tell it."""
    app = make_app(**smtp.app_config())
    relay_had = []

    @app.after_request
    def look_at_the_relay(response):
        background.settle()  # whatever was started by now has run
        relay_had.append(len(smtp.messages))
        return response

    ask(WebClient(app.test_client()), "client@example.com")
    assert relay_had[-1] == 0
    assert smtp.wait_for(lambda m: "client@example.com" in m.to).subject == "Reset your password"


def test_a_hung_mail_relay_holds_up_no_text(make_app, smtp, vonage, factories):
    """Mail and texts have a sender each: SMS recovery is the way out when mail is down."""
    factories.client_user(email="phone@example.com", phone=PHONE, phone_verified_at=utcnow())
    app = make_app(**smtp.app_config(), **vonage.app_config())
    web = WebClient(FlaskClient(app, app.response_class, use_cookies=True))  # does not wait for deliveries
    smtp.hold()
    try:
        ask(web, "phone@example.com", channel="email")
        ask(web, "phone@example.com", channel="sms")
        assert "password recovery code" in vonage.wait_for_message_to(PHONE)["text"]
        assert smtp.messages == []
    finally:
        smtp.release()
    assert background.settle()


def test_a_link_that_died_while_it_waited_is_not_sent(make_app, smtp, factories, client_user):
    factories.client_user(email="first@example.com")
    app = make_app(**smtp.app_config())
    web = WebClient(FlaskClient(app, app.response_class, use_cookies=True))
    smtp.hold()
    try:
        ask(web, "first@example.com")  # the relay holds this one; the next waits behind it
        ask(web, "client@example.com")
        db.session.execute(update(RecoveryLink).where(RecoveryLink.user_id == client_user.id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    finally:
        smtp.release()
    assert background.settle()
    assert [mail.to for mail in smtp.messages] == ["first@example.com"]


def test_a_link_the_relay_refused_is_dropped_and_logged_with_the_request(mail_web, smtp, client_user):
    smtp.fail_with("550 5.1.1 Mailbox unavailable")
    assert "Check your email" in ask(mail_web, "client@example.com").get_data(as_text=True)
    assert db.session.execute(select(RecoveryLink)).first() is None
    [failed] = db.session.execute(select(AuthEvent).where(AuthEvent.event == "recovery_link_failed")).scalars()
    assert (failed.user_id, failed.ip) == (client_user.id, "127.0.0.1")
    assert "could not be sent" in failed.detail


def test_a_known_account_costs_the_request_what_a_stranger_does(make_app, smtp, vonage, factories):
    """Nothing is read again after a commit for a real account: the time tells nothing either."""
    factories.client_user(email="phone@example.com", phone=PHONE, phone_verified_at=utcnow())
    app = make_app(**smtp.app_config(), **vonage.app_config())
    work = {}
    for login in ("phone@example.com", "nobody@example.com"):
        for channel in ("email", "sms"):
            web = WebClient(FlaskClient(app, app.response_class, use_cookies=True))
            work[login, channel] = kinds_of_work(web, "/recover", {"login": login, "channel": channel}, "/recover")
        work[login, "resend"] = kinds_of_work(web, "/recover/code/resend", {}, "/recover/code")
    for step in ("email", "sms", "resend"):
        assert work["phone@example.com", step] == work["nobody@example.com", step], step
    assert background.settle()
    assert smtp.wait_for(lambda m: "phone@example.com" in m.to).subject == "Reset your password"
    assert len(vonage.messages_to(PHONE)) == 2  # the code and its resend, to the real account only


def test_password_change_kills_the_link(mail_web, smtp, client_web, client_user):
    ask(mail_web, "client@example.com")
    path = reset_path(smtp, "client@example.com")
    client_web.post_form("/settings/general/password", {
        "current_password": "client password 1", "password": NEW, "confirm": NEW},
        page_url="/settings/general")
    assert mail_web.get(path).headers["Location"] == "/recover"


def test_link_lives_an_hour_at_most(mail_web, smtp, client_user):
    ask(mail_web, "client@example.com")
    reset_path(smtp, "client@example.com")
    link = db.session.execute(select(RecoveryLink)).scalar_one()
    assert link.expires_at - link.created_at <= timedelta(hours=1)
    assert len(link.token_hash) == 64  # only the digest is stored


def test_same_answer_for_unknown_denied_and_real_accounts(mail_web, smtp, factories, client_user):
    factories.client_user(email="denied@example.com", access_denied=True)
    real = page_text(ask(mail_web, "client@example.com"))
    unknown = page_text(ask(mail_web, "ghost@example.com"))
    denied = page_text(ask(mail_web, "denied@example.com"))
    assert real == unknown == denied
    smtp.wait_for(lambda m: "client@example.com" in m.to)
    assert [m.to for m in smtp.messages] == ["client@example.com"]


def test_invite_link_welcomes_a_new_administrator(mail_web, smtp, factories):
    staff = factories.staff(login="newadmin", password=None)
    with mail_web.application.test_request_context():
        send_password_link(db.session.get(User, staff.id), purpose="invite")
    mail = smtp.wait_for(lambda m: "newadmin@" in m.to)
    assert mail.subject == "Welcome: set your password" and "Your login is newadmin" in mail.body
    path = mail.links[0].removeprefix("https://portal.example")
    assert set_password(mail_web, path).headers["Location"] == "/login"
    assert mail_web.login("newadmin", NEW).headers["Location"] == "/admin/"


# SMS ------------------------------------------------------------------------------------------
def sms_user(factories):
    return factories.client_user(email="phone@example.com", phone=PHONE, phone_verified_at=utcnow())


def code_step(web, code):
    return web.post_form("/recover/code", {"code": code})


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


def test_recovery_requests_are_throttled_per_account(app, make_app, client_user):
    """Fresh browsers cannot flood one account's mailbox with reset links: the per-account limit."""
    limited = make_app(RATELIMIT_RECOVER_PER_ACCOUNT="2 per hour")
    statuses = [ask(WebClient(limited.test_client()), "client@example.com").status_code for _ in range(3)]
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


def test_a_refused_password_at_reset_is_not_echoed(mail_web, smtp, client_user):
    ask(mail_web, "client@example.com")
    path = reset_path(smtp, "client@example.com")
    body = set_password(mail_web, path, password="client user pass 9").get_data(as_text=True)
    assert "Do not use your login, email or name in the password." in body
    assert "client user pass 9" not in body


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


def test_recover_asks_for_the_captcha_after_failures_of_the_typed_login_elsewhere(app, web, client_user):
    settings.update({"captcha.after_failures": 2})
    db.session.commit()
    for address in ("198.51.100.7", "203.0.113.7"):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        WebClient(client).post_form("/login", {"login": "client@example.com", "password": "wrong guess 1"})
    token = web.csrf_token("/recover")
    refused = web.client.post("/recover", data={"csrf_token": token, "login": "client@example.com",
                                                "channel": "email"})
    assert "Please complete the captcha." in refused.get_data(as_text=True)


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


def sms_code(vonage):
    return re.search(r"\b(\d{6})\b", vonage.messages_to(PHONE.removeprefix("+"))[-1]["text"]).group(1)


def resend(web):
    return web.post_form("/recover/code/resend", {}, page_url="/recover/code")


def test_recovery_keeps_to_the_channel_staff_allow(make_app, smtp, vonage, factories):
    """With recovery by email only, a request that says "sms" gets a link, never a text."""
    sms_user(factories)
    settings.update({"recovery.channels": "email"})
    db.session.commit()
    web = WebClient(make_app(**smtp.app_config(), **vonage.app_config()).test_client())
    answer = ask(web, "phone@example.com", channel="sms")
    assert answer.status_code == 200 and "Check your email" in answer.get_data(as_text=True)
    assert smtp.wait_for(lambda m: "phone@example.com" in m.to).subject == "Reset your password"
    assert vonage.sent == [] and db.session.execute(select(ResetCode)).first() is None


def test_link_and_code_live_as_long_as_staff_chose(mail_web, smtp, vonage, factories, client_user):
    settings.update({"recovery.link_minutes": 15, "recovery.code_minutes": 3})
    db.session.commit()
    ask(mail_web, "client@example.com")
    reset_path(smtp, "client@example.com")
    link = db.session.execute(select(RecoveryLink)).scalar_one()
    assert timedelta(minutes=14) < link.expires_at - link.created_at <= timedelta(minutes=15)
    sms_user(factories)
    sms_web = WebClient(mail_web.application.test_client())
    ask(sms_web, "phone@example.com", channel="sms")
    row = db.session.execute(select(ResetCode)).scalar_one()
    assert timedelta(minutes=2) < row.expires_at - row.created_at <= timedelta(minutes=3)


def test_the_link_an_sms_code_opens_lives_as_long_as_a_code(sms_web, vonage, factories):
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    assert code_step(sms_web, sms_code(vonage)).headers["Location"].startswith("/recover/reset/")
    link = db.session.execute(select(RecoveryLink)).scalar_one()
    assert link.purpose == "sms" and link.expires_at - link.created_at <= timedelta(minutes=10)


def test_an_accepted_sms_code_kills_the_email_links(make_app, smtp, vonage, factories):
    """The newest way in supersedes the older: a link mailed before is dead once a code is accepted."""
    sms_user(factories)
    web = WebClient(make_app(**smtp.app_config(), **vonage.app_config(),
                             PUBLIC_URL="https://portal.example").test_client())
    ask(web, "phone@example.com")
    mailed = reset_path(smtp, "phone@example.com")
    ask(web, "phone@example.com", channel="sms")
    assert code_step(web, sms_code(vonage)).headers["Location"].startswith("/recover/reset/")
    assert web.get(mailed).headers["Location"] == "/recover"


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


def test_a_link_of_an_account_switched_off_since_is_dead(mail_web, smtp, client_user):
    ask(mail_web, "client@example.com")
    path = reset_path(smtp, "client@example.com")
    client_user.access_denied = True
    db.session.commit()
    assert mail_web.get(path).headers["Location"] == "/recover"


def test_the_resend_answers_the_same_for_unknown_and_real_accounts(sms_web, vonage, factories):
    sms_user(factories)
    ask(sms_web, "phone@example.com", channel="sms")
    real = page_text(sms_web.get(resend(sms_web).headers["Location"]))
    other = WebClient(sms_web.application.test_client())
    ask(other, "ghost@example.com", channel="sms")
    assert page_text(other.get(resend(other).headers["Location"])) == real
    assert "a new code is on its way" in real


@pytest.mark.parametrize("path", ["/recover", "/recover/code/resend", "/recover/reset/not-a-token"])
def test_recovery_pages_are_throttled_per_address(make_app, factories, path):
    app = make_app(RATELIMIT_RECOVER_PER_IP="2 per hour")
    statuses = []
    for _ in range(3):
        web = WebClient(app.test_client())
        token = web.csrf_token("/login")
        statuses.append(web.client.post(path, data={"csrf_token": token, "login": "ghost@example.com",
                                                    "channel": "email"}).status_code)
    assert statuses[2] == 429 and 429 not in statuses[:2]


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


def test_a_link_older_than_the_last_password_change_is_dead(mail_web, smtp, client_user):
    """A link stored while a change of password was under way (so its sweep missed it) is dead."""
    ask(mail_web, "client@example.com")
    path = reset_path(smtp, "client@example.com")
    db.session.execute(update(User).where(User.id == client_user.id).values(password_changed_at=utcnow()))
    db.session.commit()
    assert mail_web.get(path).headers["Location"] == "/recover"


def test_a_reset_lifts_the_lock_of_the_account_and_says_why(app, mail_web, smtp, client_user):
    client_user.failed_logins, client_user.locked_until = 7, utcnow() + timedelta(hours=1)
    db.session.commit()
    ask(mail_web, "client@example.com")
    set_password(mail_web, reset_path(smtp, "client@example.com"))
    db.session.expire_all()
    assert (client_user.failed_logins, client_user.locked_until) == (0, None)
    assert db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "account_unlocked")
                              ).scalars().all() == ["password reset"]
    assert WebClient(app.test_client()).login("client@example.com", NEW).headers["Location"] == "/home"


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
