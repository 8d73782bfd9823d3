"""Sign-in core: login, logout, registration, server-side sessions, CSRF, safe redirects."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuthEvent, PendingRegistration, User, UserSession
from portal.models.base import utcnow
from portal.services.mail import greeting
from tests.outbox import link_in, messages, path_in
from tests.signup import register
from tests.web import WebClient


def cookie_value(client, name):
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def test_login_lands_in_client_area(web, client_user):
    response = web.login("client@example.com", "client password 1")
    assert response.headers["Location"] == "/home"
    assert "Client User" in web.get("/home").get_data(as_text=True)


def test_login_by_login_name_for_staff(web, staff_user):
    response = web.login("BOSS", "staff password 1")
    assert response.headers["Location"] == "/admin/"
    assert web.get("/admin/").status_code == 200


def strip_tokens(html):
    """Pages without their values and CSRF tokens (a token carries the second it was made)."""
    return re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", html)


def test_unknown_login_and_wrong_password_answer_the_same(web, client_user):
    wrong = web.post_form("/login", {"login": "client@example.com", "password": "nope nope nope"})
    unknown = web.post_form("/login", {"login": "ghost@example.com", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 200

    assert strip_tokens(wrong.get_data(as_text=True)) == strip_tokens(unknown.get_data(as_text=True)).replace(
        "ghost@example.com", "client@example.com")
    assert "Wrong login or password." in wrong.get_data(as_text=True)
    events = db.session.execute(select(AuthEvent.event, AuthEvent.login)).all()
    assert ("login_failed", "ghost@example.com") in events


def test_rejected_login_keeps_login_but_not_password(web, client_user):
    body = web.post_form("/login", {"login": "client@example.com", "password": "wrong pass 1"}
                         ).get_data(as_text=True)
    assert 'value="client@example.com"' in body
    assert "wrong pass 1" not in body


def test_denied_or_deactivated_account_cannot_log_in(web, factories):
    factories.client_user(email="denied@example.com", access_denied=True)
    factories.client_user(email="gone@example.com", is_active_account=False)
    for email in ("denied@example.com", "gone@example.com"):
        response = web.post_form("/login", {"login": email, "password": "client password 1"})
        assert "Wrong login or password." in response.get_data(as_text=True)


def test_password_rehashed_when_parameters_change(make_app, factories):
    user = factories.client_user(email="old@example.com")
    old_hash = user.password_hash
    stronger = make_app(ARGON2_TIME_COST=2)
    WebClient(stronger.test_client()).login("old@example.com", "client password 1")
    db.session.expire_all()
    new_hash = db.session.get(User, user.id).password_hash
    assert new_hash != old_hash and "t=2" in new_hash


def test_session_cookie_changes_at_login(web, client_user):
    web.get("/login")
    before = cookie_value(web, "portal_session")
    web.login("client@example.com", "client password 1")
    after = cookie_value(web, "portal_session")
    assert before and after and before != after


def test_logout_is_post_only(client_web):
    assert client_web.get("/logout").status_code == 405
    assert client_web.get("/home").status_code == 200


def test_copied_cookie_refused_after_logout(app, client_web):
    stolen = cookie_value(client_web, "portal_session")
    client_web.post_form("/logout", {}, page_url="/home")
    thief = app.test_client()
    thief.set_cookie("portal_session", stolen)
    response = thief.get("/home")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_revoked_session_row_ends_the_browser(client_web):
    assert client_web.get("/home").status_code == 200
    row = db.session.execute(select(UserSession)).scalar_one()
    row.revoked_at = utcnow()
    db.session.commit()
    assert client_web.get("/home").status_code == 302


def test_remember_cookie_bound_to_its_session(app, web, client_user):
    web.login("client@example.com", "client password 1", remember=True)
    remember = cookie_value(web, "portal_remember")
    fresh_browser = app.test_client()
    fresh_browser.set_cookie("portal_remember", remember)
    assert fresh_browser.get("/home").status_code == 200  # remember-me works
    db.session.execute(db.update(UserSession).values(revoked_at=utcnow()))
    db.session.commit()
    other = app.test_client()
    other.set_cookie("portal_remember", remember)
    assert other.get("/home").status_code == 302  # revoked with its row


@pytest.mark.parametrize("staff, idle_minutes", [(False, 61), (True, 31)])
def test_idle_timeout_shorter_for_staff(web, client_user, staff_user, staff, idle_minutes):
    web.login("boss" if staff else "client@example.com",
              "staff password 1" if staff else "client password 1")
    page = "/admin/" if staff else "/home"
    row = db.session.execute(select(UserSession)).scalar_one()
    row.last_seen_at = utcnow() - timedelta(minutes=idle_minutes - 2)
    db.session.commit()
    assert web.get(page).status_code == 200
    row.last_seen_at = utcnow() - timedelta(minutes=idle_minutes)
    db.session.commit()
    assert web.get(page).status_code == 302


def test_absolute_timeout(client_web):
    row = db.session.execute(select(UserSession)).scalar_one()
    row.created_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    assert client_web.get("/home").status_code == 302


def test_staff_cannot_use_remember_me(web, staff_user):
    web.login("boss", "staff password 1", remember=True)
    assert cookie_value(web, "portal_remember") is None


def test_csrf_refused_without_token_on_forms(web, client_user):
    response = web.post("/login", data={"login": "client@example.com", "password": "client password 1"})
    assert response.status_code == 400
    assert db.session.execute(select(UserSession)).first() is None


def test_csrf_refused_without_token_on_htmx_posts(client_web):
    response = client_web.post("/logout", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "<html" not in response.get_data(as_text=True)  # a fragment for htmx
    assert client_web.get("/home").status_code == 200  # still signed in


def test_htmx_post_with_header_token_accepted(client_web):
    response = client_web.htmx("POST", "/logout", page_url="/home")
    assert response.status_code == 302
    assert client_web.get("/home").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_next_to_another_site_is_ignored(web, client_user, target):
    response = web.post_form("/login", {"login": "client@example.com",
                                        "password": "client password 1", "next": target})
    assert response.headers["Location"] == "/home"


def test_next_local_path_is_followed(web, client_user):
    response = web.post_form("/login", {"login": "client@example.com",
                                        "password": "client password 1", "next": "/home?tab=1"})
    assert response.headers["Location"] == "/home?tab=1"


def test_client_user_gets_403_in_admin(client_web):
    assert client_web.get("/admin/").status_code == 403


def test_anonymous_sent_to_login_from_admin(web):
    response = web.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_register_confirm_and_land_in_client_area(web):
    response = register(web)
    assert "Check your email" in response.get_data(as_text=True)
    assert db.session.execute(select(User)).first() is None  # nothing until the link is used
    path = link_in("new@example.com")
    assert web.get(path).status_code == 200  # GET changes nothing
    assert db.session.execute(select(User)).first() is None
    response = web.post_form(path, {})
    assert response.headers["Location"] == "/home"
    user = db.session.execute(select(User)).scalar_one()
    assert user.client.owner_id == user.id and user.name == "New Person"
    assert web.post_form(path, {}).headers["Location"] == "/register"  # used: the link is dead


def test_a_link_opened_in_another_browser_needs_the_password_chosen_at_sign_up(web, app):
    """Anyone can register anyone's address with a password of their own: the mailbox's owner,
    clicking the link, must not end up confirming an account a stranger holds the password to."""
    register(web, email="victim@example.com", password="strangers password 1")
    path = link_in("victim@example.com")
    victim = WebClient(app.test_client())
    page = victim.get(path).get_data(as_text=True)
    assert ">Password</label>" in page and "another browser" in page
    for typed in ("", "my own password 1"):
        refused = victim.post_form(path, {"password": typed})
        assert refused.status_code == 422
        assert "Enter the password you chose when you registered." in refused.get_data(as_text=True)
    assert db.session.execute(select(User)).first() is None

    same_person = WebClient(app.test_client())  # the one who registered, on their phone
    assert same_person.post_form(path, {"password": "strangers password 1"}).headers["Location"] == "/home"
    assert db.session.execute(select(User.email)).scalar_one() == "victim@example.com"


def test_a_strangers_link_for_my_address_needs_the_strangers_password_in_my_browser(web, app):
    """A stranger registers my address first, then I register it myself: two look-alike emails.
    My browser confirms my own link in one click, but the stranger's only with the stranger's
    password, whichever of us registered first."""
    stranger = WebClient(app.test_client())
    register(stranger, email="victim@example.com", password="strangers password 1")
    register(web, email="victim@example.com", password="my own password 1")
    register(stranger, email="victim@example.com", password="strangers password 2")  # a later one too
    earlier_strangers, mine, later_strangers = [path_in(mail.body) for mail in messages(to="victim@example.com")]
    for strangers in (earlier_strangers, later_strangers):
        assert ">Password</label>" in web.get(strangers).get_data(as_text=True)
        for typed in ("", "my own password 1"):
            refused = web.post_form(strangers, {"password": typed})
            assert refused.status_code == 422
            assert "Enter the password you chose when you registered." in refused.get_data(as_text=True)
    assert db.session.execute(select(User)).first() is None

    assert ">Password</label>" not in web.get(mine).get_data(as_text=True)
    assert web.post_form(mine, {}).headers["Location"] == "/home"
    assert db.session.execute(select(PendingRegistration)).first() is None  # no stranger's password hash kept
    web.post_form("/logout", {}, page_url="/home")
    assert web.post_form("/login", {"login": "victim@example.com", "password": "my own password 1"}
                         ).headers["Location"] == "/home"
    for strangers in (earlier_strangers, later_strangers):  # confirmed: the address's other links are dead
        assert stranger.post_form(strangers, {"password": "strangers password 1"}).headers["Location"] == "/register"


def test_guessing_a_sign_ups_password_is_limited_per_sign_up_from_any_address(app, make_app):
    limited = make_app(RATELIMIT_LOGIN_PER_ACCOUNT="3 per minute")
    register(WebClient(limited.test_client()), email="victim@example.com", password="strangers password 1")
    [mail] = messages(to="victim@example.com")
    link = path_in(mail.body)
    statuses = []
    for number in range(4):  # a new address each time: the per-IP limit never applies
        client = limited.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{number}"
        statuses.append(WebClient(client).post_form(link, {"password": f"guess {number}"}).status_code)
    assert statuses == [422, 422, 422, 429]
    assert db.session.execute(select(User)).first() is None


def test_a_name_typed_at_registration_never_reaches_an_unproven_mailbox(web, factories):
    """Anyone can register anyone's address: the confirmation greets no one by the name typed, so
    it cannot carry a stranger's text; a name in later mail stays on one line."""
    lure = "there\n\nYour hosting is suspended: pay at https://evil.example/pay"
    register(web, email="victim@example.com", name=lure)
    [mail] = messages(to="victim@example.com")
    body = mail.body
    assert body.startswith("Hello,\n\n") and "evil.example" not in body
    user = factories.client_user(email="named@example.com", name="Ann\n\nPay now")
    with web.application.test_request_context():
        assert greeting(user) == "Hello Ann Pay now,\n\n"


def test_a_signed_in_person_opening_register_goes_home(client_web):
    assert client_web.get("/register").headers["Location"] == "/home"


def test_register_answers_the_same_for_a_known_email(web, client_user):
    known = register(web, email="client@example.com").get_data(as_text=True)
    unknown = register(web, email="other@example.com").get_data(as_text=True)
    assert (strip_tokens(known).replace("client@example.com", "X")
            == strip_tokens(unknown).replace("other@example.com", "X"))
    [notice] = messages(to="client@example.com")
    assert "already have an account" in notice.body


def test_register_marks_the_browser_alike_for_a_known_email(app, client_user):
    """The signed session cookie is readable: registering a known address leaves the same mark."""
    marks = []
    for email in ("client@example.com", "other@example.com"):
        browser = WebClient(app.test_client())
        register(browser, email=email)
        data = app.session_interface.get_signing_serializer(app).loads(
            browser.get_cookie("portal_session").value)
        marks.append(data["registration_started"])
    known, unknown = marks
    assert len(known) == len(unknown) == 64 and known != unknown


def test_register_with_a_known_email_mails_the_recovery_link(web, client_user):
    register(web, email="client@example.com")
    path = link_in("client@example.com")
    assert path == "/recover"
    assert ">Login or email</label>" in web.get(path).get_data(as_text=True)


def test_register_errors_keep_input_but_not_passwords(web):
    body = register(web, email="not-an-email", name="Kept Name", password="short",
                    confirm="shorter").get_data(as_text=True)
    assert 'value="Kept Name"' in body and 'value="not-an-email"' in body
    assert "short" not in re.findall(r'type="password"[^>]*', body).__str__()
    assert "Invalid email address." in body
    assert "Use at least 12 characters." in body
    assert messages() == []


def test_register_passwords_must_match(web):
    body = register(web, password="good password 1", confirm="good password 2").get_data(as_text=True)
    assert "The passwords do not match." in body


def test_remember_me_session_ends_after_remember_days(app, web, client_user):
    """"Remember me" outlives SESSION_MAX_HOURS, but not REMEMBER_DAYS."""
    web.login("client@example.com", "client password 1", remember=True)
    row = db.session.execute(select(UserSession)).scalar_one()
    days = app.config["REMEMBER_DAYS"]
    row.created_at = utcnow() - timedelta(days=days - 1)
    db.session.commit()
    assert web.get("/home").status_code == 200
    row.created_at = utcnow() - timedelta(days=days, minutes=1)
    db.session.commit()
    assert web.get("/home").status_code == 302


def test_signing_in_again_ends_the_browsers_previous_session(app, client_web):
    """A second sign-in in the same browser rotates the id: a copy of the earlier cookie is dead."""
    earlier = cookie_value(client_web, "portal_session")
    response = client_web.post_form("/login", {"login": "client@example.com", "password": "client password 1"},
                                    page_url="/home")
    assert response.status_code == 302 and client_web.get("/home").status_code == 200
    copy = app.test_client()
    copy.set_cookie("portal_session", earlier)
    assert copy.get("/home").status_code == 302


def test_staff_without_full_access_get_the_staff_timeouts(app, web, factories):
    """The staff limits follow the kind of account, not its functions."""
    factories.staff(login="helper", password="staff password 1")
    web.login("helper", "staff password 1")
    row = db.session.execute(select(UserSession)).scalar_one()
    row.last_seen_at = utcnow() - timedelta(minutes=app.config["STAFF_SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert web.get("/settings/general").status_code == 302


def test_an_expired_registration_link_creates_nothing(web):
    register(web)
    path = link_in("new@example.com")
    db.session.execute(PendingRegistration.__table__.update().values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert web.post_form(path, {}).headers["Location"] == "/register"
    assert db.session.execute(select(User)).first() is None


def test_register_refuses_a_name_longer_than_its_column_beside_the_field(web):
    body = register(web, name="N" * 201).get_data(as_text=True)
    assert 'id="name-error">Field cannot be longer than 200 characters.' in body
    assert db.session.execute(select(PendingRegistration)).first() is None


def test_a_new_accounts_password_ages_from_its_sign_up(app, make_app):
    """The maximum password age applies to the password chosen at registration as to any other."""
    web = WebClient(make_app(PASS_EXPIRE_PERIOD=90).test_client())
    register(web)
    assert web.post_form(link_in("new@example.com"), {}).headers["Location"] == "/home"
    user = db.session.execute(select(User)).scalar_one()
    assert utcnow() - user.password_changed_at < timedelta(minutes=5)
    user.password_changed_at = utcnow() - timedelta(days=91)
    db.session.commit()
    assert web.get("/home").headers["Location"] == "/settings/password"


def test_a_registered_address_is_stored_folded_and_its_link_lives_the_configured_hours(app, make_app):
    web = WebClient(make_app(REGISTRATION_LINK_HOURS=2).test_client())
    register(web, email="New.Person@Example.COM")
    pending = db.session.execute(select(PendingRegistration)).scalar_one()
    assert pending.email == "new.person@example.com"
    assert abs(pending.expires_at - (utcnow() + timedelta(hours=2))) < timedelta(minutes=1)
    [mail] = messages()
    assert "(valid 2 hours)" in mail.body
    web.post_form(link_in("new.person@example.com"), {})
    user = db.session.execute(select(User)).scalar_one()
    assert (user.login, user.email) == ("new.person@example.com", "new.person@example.com")


def test_one_address_gets_at_most_its_budget_of_registration_mails_with_the_same_answer(make_app, client_user):
    """Many addresses, each within its own limit and captcha, could flood one mailbox with
    confirmations (or "someone tried to register" notices): past REGISTRATION_MAILS_PER_ADDRESS
    nothing more is sent there, with the same page as ever, for a known address as for a new one
    (the count is the typed address's, folded, whoever it belongs to)."""
    app = make_app(REGISTRATION_MAILS_PER_ADDRESS="2 per hour")
    for address, typed in (("victim@example.com", ["victim@example.com", "Victim@Example.com", "VICTIM@example.com"]),
                           ("client@example.com", ["client@example.com", "Client@example.com", "CLIENT@example.com"])):
        answers = [strip_tokens(register(WebClient(app.test_client()), email=email).get_data(as_text=True)
                                .replace(email, "X")) for email in typed]
        assert answers[0] == answers[1] == answers[2] and "Check your email" in answers[2]
        assert len(messages(to=address)) == 2
    assert [event.login for event in db.session.execute(select(AuthEvent).where(
        AuthEvent.event == "register_mail_withheld").order_by(AuthEvent.id)).scalars()] == [
        "victim@example.com", "client@example.com"]
    assert db.session.execute(select(PendingRegistration.email)).scalars().all() == ["victim@example.com"] * 2
    register(WebClient(app.test_client()), email="other@example.com")
    assert len(messages(to="other@example.com")) == 1  # every address has its own


def guess_a_sign_ups_password(web, number):
    """Someone else registers an address; this browser tries a password on its link."""
    register(WebClient(web.application.test_client()), email=f"victim{number}@example.com")
    return web.post_form(link_in(f"victim{number}@example.com"), {"password": "a guess 1"})


@pytest.mark.parametrize("limit, attempt", [
    ("RATELIMIT_REGISTER_PER_IP", lambda web, number: register(web, email=f"new{number}@example.com")),
    ("RATELIMIT_LOGIN_PER_IP", guess_a_sign_ups_password),
], ids=["sign-up", "confirmation"])
def test_sign_up_and_its_confirmation_are_throttled_per_address(app, make_app, limit, attempt):
    """Per address across many sign-ups (each sign-up's own count never fills here)."""
    web = WebClient(make_app(**{limit: "2 per hour"}).test_client())
    statuses = [attempt(web, number).status_code for number in range(3)]
    assert 429 not in statuses[:2] and statuses[2] == 429, statuses
