"""Recovery by email (real SMTP on loopback), and what both channels share."""

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import AuthEvent, RecoveryLink, ResetCode, User
from portal.models.base import utcnow
from portal.services import background, settings
from portal.services.recovery import send_password_link
from tests.api_helpers import bearer, make_token
from tests.recovery_helpers import (
    NEW,
    PHONE,
    ask,
    code_step,
    page_text,
    reset_path,
    set_password,
    sms_code,
    sms_user,
)
from tests.statements import kinds_of_work
from tests.web import WebClient


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


def test_recovery_requests_are_throttled_per_account(app, make_app, client_user):
    """Fresh browsers cannot flood one account's mailbox with reset links: the per-account limit."""
    limited = make_app(RATELIMIT_RECOVER_PER_ACCOUNT="2 per hour")
    statuses = [ask(WebClient(limited.test_client()), "client@example.com").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_refused_password_at_reset_is_not_echoed(mail_web, smtp, client_user):
    ask(mail_web, "client@example.com")
    path = reset_path(smtp, "client@example.com")
    body = set_password(mail_web, path, password="client user pass 9").get_data(as_text=True)
    assert "Do not use your login, email or name in the password." in body
    assert "client user pass 9" not in body


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


def test_a_link_of_an_account_switched_off_since_is_dead(mail_web, smtp, client_user):
    ask(mail_web, "client@example.com")
    path = reset_path(smtp, "client@example.com")
    client_user.access_denied = True
    db.session.commit()
    assert mail_web.get(path).headers["Location"] == "/recover"


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
