"""Brute-force defence: the account lock in the database, per-IP locks, the owner told, gunicorn workers."""

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, AuthEvent, Provider, User
from portal.models.base import utcnow
from portal.services import settings
from tests.access_helpers import browser, staff_with
from tests.outbox import messages
from tests.statements import kinds_of_work
from tests.web import ALTCHA_WIDGET, WebClient

RIGHT = "amber falcon river"
WRONG_ANSWER = "Wrong login or password."


def configure(**values):
    """Store run-time settings as staff would (keys with dots)."""
    settings.update(values)
    db.session.commit()


@pytest.fixture
def target(factories):
    return factories.client_user(email="target@example.com", password=RIGHT)


def attempt(web, password, login="target@example.com"):
    return web.post_form("/login", {"login": login, "password": password})


def events(name):
    return db.session.execute(select(AuthEvent).where(AuthEvent.event == name)).scalars().all()


def test_lock_after_n_failures_refuses_the_right_password_alike(web, target):
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    for _ in range(3):
        assert WRONG_ANSWER in attempt(web, "wrong guess 1").get_data(as_text=True)
    locked = attempt(web, RIGHT)
    assert locked.status_code == 200 and WRONG_ANSWER in locked.get_data(as_text=True)
    user = db.session.get(User, target.id)
    assert user.failed_logins == 3 and user.locked_until > utcnow() + timedelta(minutes=14)
    assert len(events("account_locked")) == 1
    [notice] = messages(subject="Your account was locked")
    assert notice.recipient == "target@example.com"


def test_a_stranger_cannot_lock_the_owner_out_of_a_browser_they_signed_in_with_before(app, target):
    """Device cookies: the owner's own browser may still try during a lock that strangers' guesses
    keep up; the stranger, with the right password, still may not; and the device has its own limit."""
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    owner = WebClient(app.test_client())
    signed_in = attempt(owner, RIGHT)
    device_cookie = next(c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith("portal_device="))
    assert "HttpOnly" in device_cookie and "Path=/login" in device_cookie
    owner.post_form("/logout", {}, page_url="/home")
    stranger = WebClient(app.test_client())
    for _ in range(3):
        attempt(stranger, "wrong guess 1")
    assert db.session.get(User, target.id).locked_until > utcnow()
    assert WRONG_ANSWER in attempt(stranger, RIGHT).get_data(as_text=True)  # a leaked password: still locked
    assert attempt(owner, RIGHT).headers["Location"] == "/home"

    owner.post_form("/logout", {}, page_url="/home")
    for _ in range(3):  # the device's own wrong passwords use up its trust
        attempt(owner, "wrong guess 2")
    assert WRONG_ANSWER in attempt(owner, RIGHT).get_data(as_text=True)


def test_one_browsers_wrong_passwords_do_not_end_the_owners_other_browsers_pass(app, target):
    """Each sign-in makes its own device: a browser that used up its wrong passwords during a lock
    leaves the owner's other browser able to sign in."""
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    laptop, phone = WebClient(app.test_client()), WebClient(app.test_client())
    for own in (laptop, phone):
        assert attempt(own, RIGHT).headers["Location"] == "/home"
        own.post_form("/logout", {}, page_url="/home")
    for _ in range(3):
        attempt(WebClient(app.test_client()), "wrong guess 1")
    assert db.session.get(User, target.id).locked_until > utcnow()
    for _ in range(3):
        attempt(laptop, "wrong guess 2")
    assert WRONG_ANSWER in attempt(laptop, RIGHT).get_data(as_text=True)
    assert attempt(phone, RIGHT).headers.get("Location") == "/home"


NEW = "violet kettle under moonlight"


def device_cookie_of(browser_) -> str:
    """Sign in (a device cookie comes with it), then out again."""
    assert attempt(browser_, RIGHT).headers["Location"] == "/home"
    browser_.post_form("/logout", {}, page_url="/home")
    return browser_.get_cookie("portal_device", path="/login").value


def locked_by_strangers(app, target) -> None:
    for _ in range(3):
        attempt(WebClient(app.test_client()), "wrong guess 1")
    assert db.session.get(User, target.id).locked_until > utcnow()


def test_a_device_cookie_from_before_a_password_change_no_longer_lifts_the_lock(app, target):
    """Someone who signed in with a stolen password carries a device cookie too. Once the owner
    changes the password, it vouches no more: during a lock that strangers keep up, even the right
    password is refused from that browser as from any other. The owner's browser that changed it
    has a new cookie, and still signs in."""
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    thief, owner = WebClient(app.test_client()), WebClient(app.test_client())
    device_cookie_of(thief)
    before = device_cookie_of(owner)
    owner.login("target@example.com", RIGHT)
    changed = owner.post_form("/settings/general/password", {"current_password": RIGHT, "password": NEW,
                                                             "confirm": NEW}, page_url="/settings/general")
    assert changed.status_code == 302 and owner.get_cookie("portal_device", path="/login").value != before
    owner.post_form("/logout", {}, page_url="/settings/general")
    locked_by_strangers(app, target)
    assert WRONG_ANSWER in attempt(thief, NEW).get_data(as_text=True)
    assert events("login_failed")[-1].detail == "account locked"
    assert attempt(owner, NEW).headers["Location"] == "/home"


def test_a_device_cookie_from_before_signing_out_everywhere_else_no_longer_lifts_the_lock(app, target):
    """"Sign out everywhere else" ends every other browser's pass too; a session alone proves no
    password, so the browser that did it gets its next cookie at its next full sign-in."""
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    thief, owner = WebClient(app.test_client()), WebClient(app.test_client())
    device_cookie_of(thief)
    owner.login("target@example.com", RIGHT)
    assert owner.post_form("/settings/security/sessions/end-others", {},
                           page_url="/settings/security").status_code == 302
    locked_by_strangers(app, target)
    assert WRONG_ANSWER in attempt(thief, RIGHT).get_data(as_text=True)
    assert events("login_failed")[-1].detail == "account locked"


def test_a_device_cookie_opens_no_other_account(app, target, factories):
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    factories.client_user(email="other@example.com", password=RIGHT)
    browser_ = WebClient(app.test_client())
    attempt(browser_, RIGHT, login="other@example.com")
    browser_.post_form("/logout", {}, page_url="/home")
    for _ in range(3):
        attempt(WebClient(app.test_client()), "wrong guess 1")
    assert WRONG_ANSWER in attempt(browser_, RIGHT).get_data(as_text=True)


def test_owner_not_told_when_the_setting_says_no(web, target):
    configure(**{"lockout.account_failures": 2, "lockout.notify_owner": False, "captcha.mode": "off"})
    for _ in range(2):
        attempt(web, "wrong guess 1")
    assert events("account_locked")
    assert messages() == []


def test_success_resets_the_count(web, target):
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    attempt(web, "wrong guess 1")
    attempt(web, "wrong guess 2")
    assert attempt(web, RIGHT).status_code == 302
    assert db.session.get(User, target.id).failed_logins == 0


def test_lock_expires_is_logged_and_the_next_lock_is_longer(web, target):
    configure(**{"lockout.account_failures": 2, "captcha.mode": "off"})
    for _ in range(2):
        attempt(web, "wrong guess 1")
    user = db.session.get(User, target.id)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    for _ in range(2):
        attempt(web, "wrong guess 1")
    user = db.session.get(User, target.id)
    assert user.locked_until > utcnow() + timedelta(minutes=29)  # 15 minutes, then 30
    assert [e.detail for e in events("account_unlocked")] == ["lock expired"]
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert attempt(web, RIGHT).status_code == 302


def test_a_lock_never_lasts_longer_than_a_day_however_many_came_before(web, target):
    """Each lock doubles the last, up to a day: strangers' guesses cannot shut the owner out for weeks."""
    configure(**{"lockout.account_failures": 2, "captcha.mode": "off"})
    user = db.session.get(User, target.id)
    user.failed_logins = 39  # nineteen locks ran out before
    db.session.commit()
    attempt(web, "wrong guess 1")
    locked_until = db.session.get(User, target.id).locked_until
    assert utcnow() + timedelta(hours=23) < locked_until <= utcnow() + timedelta(hours=24)


def test_a_providers_own_failure_count_locks_its_users(web, factories):
    """The lock follows the setting of the account's provider, not the default provider's."""
    other = Provider(name="Second provider")
    db.session.add(other)
    db.session.commit()
    configure(**{"lockout.account_failures": 10, "captcha.mode": "off"})
    settings.update({"lockout.account_failures": 2, "captcha.mode": "off"}, provider_id=other.id)
    db.session.commit()
    user = factories.client_user(email="other@example.com", password=RIGHT, provider_id=other.id)
    for _ in range(2):
        attempt(web, "wrong guess 1", login="other@example.com")
    assert db.session.get(User, user.id).is_locked
    assert WRONG_ANSWER in attempt(web, RIGHT, login="other@example.com").get_data(as_text=True)


def test_address_lock_answers_the_same_for_every_login(web, target):
    configure(**{"lockout.ip_failures": 3, "lockout.account_failures": 50, "captcha.mode": "off"})
    for login in ("a@example.com", "b@example.com", "c@example.com"):
        attempt(web, "wrong guess 1", login=login)
    for password in (RIGHT, "wrong guess 1"):
        body = attempt(web, password).get_data(as_text=True)
        assert "Too many failed attempts from your network." in body
    assert db.session.get(User, target.id).failed_logins == 0


def test_a_locked_account_counts_toward_the_captcha_and_the_address_lock_as_any_name(make_app, factories):
    """Were a locked account's wrong passwords not counted, the captcha and the address lock
    would come for any name but a locked one, telling which names are (locked) accounts."""
    factories.client_user(email="locked@example.com", password=RIGHT, locked_until=utcnow() + timedelta(hours=1))
    configure(**{"lockout.ip_failures": 5})
    app = make_app()
    seen = {}
    for address, login in (("198.51.100.1", "locked@example.com"), ("198.51.100.2", "nobody@example.com")):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        bodies = [attempt(WebClient(client), "wrong guess 1", login=login).get_data(as_text=True)
                  for _ in range(6)]
        seen[login] = [(bool(ALTCHA_WIDGET.search(body)), "Too many failed attempts from your network." in body)
                       for body in bodies]
    assert seen["locked@example.com"] == seen["nobody@example.com"]
    assert seen["nobody@example.com"][-1] == (True, True)  # the captcha came, then the address lock


def test_a_real_accounts_wrong_password_costs_one_commit_as_any_names(web, target):
    """Its failure count is written with the log row: one commit, as for a name without an account."""
    configure(**{"captcha.mode": "off"})
    known, unknown = (kinds_of_work(web, "/login", {"login": login, "password": "wrong guess 1"}, "/login")
                      for login in ("target@example.com", "nobody@example.com"))
    assert [kind for kind in known if kind != "UPDATE"] == unknown and known.count("UPDATE") == 1
    assert unknown.count("COMMIT") == 1
    assert db.session.get(User, target.id).failed_logins == 1


CURRENT_PASSWORD_FORMS = {  # every form of a signed-in client that asks for the current password:
    # URL, the page it is on, its password field, the other fields, the auth-log event of a refusal
    "password change": ("/settings/general/password", "/settings/general", "current_password",
                        {"password": "violet kettle moon", "confirm": "violet kettle moon"},
                        "password_change_failed"),
    "email change": ("/settings/general", "/settings/general", "email_password",
                     {"name": "Target", "email": "new-target@example.com"}, "email_change_failed"),
    "phone change": ("/settings/phone", "/settings/general", "current_password", {"phone": ""},
                     "phone_change_failed"),
    "recovery codes": ("/settings/security/recovery-codes", "/settings/security", "current_password", {},
                       "2fa_change_refused"),
}


@pytest.mark.parametrize("form", CURRENT_PASSWORD_FORMS)
def test_wrong_current_password_counts_toward_the_lock(web, target, form):
    """A stolen session must not become a way to guess the password: every current-password field
    counts toward the account lock, and during the lock the right password is refused too."""
    url, page_url, field, data, refusal = CURRENT_PASSWORD_FORMS[form]
    configure(**{"lockout.account_failures": 2, "captcha.mode": "off"})
    web.login("target@example.com", RIGHT)
    for _ in range(2):
        web.post_form(url, {**data, field: "wrong guess 1"}, page_url=page_url)
    assert db.session.get(User, target.id).locked_until > utcnow()
    body = web.post_form(url, {**data, field: RIGHT}, page_url=page_url).get_data(as_text=True)
    assert "The current password is not correct." in body
    assert len(events("account_locked")) == 1
    assert [e.detail for e in events(refusal)][-1] == "account locked"


class Browser:
    """A visitor of the gunicorn server: its own cookies, a new connection for every request."""

    def __init__(self, server):
        self.server, self.session = server, requests.Session()
        self.session.headers["Connection"] = "close"
        page = self.session.get(server.url + "/login", timeout=10).text
        self.token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def login(self, login, password):
        return self.session.post(self.server.url + "/login", timeout=20, allow_redirects=False,
                                 data={"csrf_token": self.token, "login": login, "password": password})


def all_at_once(browsers, login, password):
    """Every browser posts at the same moment, so both workers take some of the requests."""
    barrier = threading.Barrier(len(browsers))

    def post(browser):
        barrier.wait()
        return browser.login(login, password)

    with ThreadPoolExecutor(len(browsers)) as pool:
        return list(pool.map(post, browsers))


def lock_out(web, login="target@example.com"):
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    for _ in range(3):
        attempt(web, "wrong guess 1", login)


def test_support_unlocks_a_locked_client_user_who_then_signs_in(app, web, target, factories):
    lock_out(web)
    support = browser(app, staff_with(factories, "users.view", "users.unlock", login="support").login)
    listed = support.get("/admin/users?q=target").get_data(as_text=True)
    assert "Locked until" in listed and f'action="/admin/users/{target.id}/unlock"' in listed
    response = support.post_form(f"/admin/users/{target.id}/unlock", {}, page_url="/admin/users?q=target")
    assert response.headers["Location"] == "/admin/users"
    assert "target@example.com is unlocked." in support.get("/admin/users").get_data(as_text=True)
    user = db.session.get(User, target.id)
    assert (user.locked_until, user.failed_logins) == (None, 0)
    assert [e.detail for e in events("account_unlocked")] == ["by support"]
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "account_unlocked")).scalar_one()
    assert (audit.actor.login, audit.target_id) == ("support", target.id)
    assert attempt(web, RIGHT).status_code == 302


def test_staff_who_view_clients_unlock_a_client_user_from_the_client_card(app, web, target, factories):
    """Unlock without "View users": the client card names the locked user by number and unlocks
    them, and Unlock comes back to the card."""
    lock_out(web)
    card_url = f"/admin/clients/{target.client_id}"
    support = browser(app, staff_with(factories, "clients.view", "users.unlock", login="support").login)
    card = support.get(card_url).get_data(as_text=True)
    assert "Locked until" in card and f'action="/admin/users/{target.id}/unlock"' in card
    response = support.post_form(f"/admin/users/{target.id}/unlock", {"next": card_url}, page_url=card_url)
    assert response.headers["Location"] == card_url
    card = support.get(card_url).get_data(as_text=True)
    assert f"User #{target.id} is unlocked." in card and "Locked until" not in card
    assert not db.session.get(User, target.id).is_locked
    lock_out(web)
    elsewhere = support.post_form(f"/admin/users/{target.id}/unlock", {"next": "https://evil.example/"},
                                  page_url=card_url)
    assert elsewhere.headers["Location"] == "/admin/"


def test_unlock_needs_its_function_and_an_administrator_needs_a_manager(app, web, target, factories):
    lock_out(web)
    viewer = browser(app, staff_with(factories, "users.view", login="viewer").login)
    assert "Locked until" in viewer.get("/admin/users?q=target").get_data(as_text=True)
    assert "/unlock" not in viewer.get("/admin/users?q=target").get_data(as_text=True)
    assert viewer.post_form(f"/admin/users/{target.id}/unlock", {}, page_url="/admin/users").status_code == 403
    weak = staff_with(factories, login="weak")  # one the viewer holds more than, yet not theirs to unlock
    lock_out(web, "weak")
    assert viewer.post_form(f"/admin/administrators/{weak.id}/unlock", {}, page_url="/admin/users").status_code == 403
    assert db.session.get(User, weak.id).is_locked
    admin = factories.staff(login="ops", password=RIGHT, full_access=True)
    lock_out(web, "ops")
    support = browser(app, staff_with(factories, "admins.view", "admins.manage", "users.unlock",
                                      login="support").login)
    assert support.post_form(f"/admin/users/{admin.id}/unlock", {}, page_url="/admin/users").status_code == 404
    assert "/unlock" not in support.get("/admin/administrators?q=ops").get_data(as_text=True)
    assert support.post_form(f"/admin/administrators/{admin.id}/unlock", {},
                             page_url="/admin/administrators").status_code == 403  # full access is above them
    assert db.session.get(User, target.id).is_locked and db.session.get(User, admin.id).is_locked
    boss = browser(app, factories.staff(login="boss", password=RIGHT, full_access=True).login, RIGHT)
    assert "Locked until" in boss.get("/admin/administrators?q=ops").get_data(as_text=True)
    assert boss.post_form(f"/admin/administrators/{admin.id}/unlock", {},
                          page_url="/admin/administrators").headers["Location"] == "/admin/administrators"
    assert not db.session.get(User, admin.id).is_locked


def test_lockout_holds_at_n_with_two_gunicorn_workers(gunicorn, target):
    """Per-worker counters would allow N x workers; the database counter holds at N, even when
    the failures arrive together."""
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    server = gunicorn(workers=2, RATELIMIT_STORAGE_URI="memory://")
    browsers = [Browser(server) for _ in range(8)]
    answers = all_at_once(browsers[:6], "target@example.com", "wrong guess 1")
    assert [a.status_code for a in answers] == [200] * 6
    assert all(WRONG_ANSWER in a.text for a in answers)
    right = browsers[6].login("target@example.com", RIGHT)
    assert right.status_code == 200 and WRONG_ANSWER in right.text
    db.session.expire_all()
    assert db.session.get(User, target.id).failed_logins == 3
    assert len(events("account_locked")) == 1
    assert len(server.worker_pids("POST /login")) == 2  # both workers took failures


@pytest.mark.skipif(not os.environ.get("PORTAL_TEST_REDIS_URL"), reason="needs PORTAL_TEST_REDIS_URL")
def test_per_account_limit_is_shared_by_gunicorn_workers_in_redis(gunicorn, target):
    configure(**{"lockout.account_failures": 100, "captcha.mode": "off"})
    server = gunicorn(workers=2, RATELIMIT_STORAGE_URI=os.environ["PORTAL_TEST_REDIS_URL"],
                      RATELIMIT_LOGIN_PER_ACCOUNT="4 per minute")
    answers = all_at_once([Browser(server) for _ in range(8)], "ghost@example.com", "wrong guess 1")
    assert sorted(a.status_code for a in answers) == [200] * 4 + [429] * 4
    assert len(server.worker_pids("POST /login")) == 2


def test_the_lock_notice_links_to_public_url_not_the_requests_host(web, target):
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    web.client.environ_base["HTTP_HOST"] = "evil.example"  # a forged Host header on every request
    for _ in range(3):
        assert WRONG_ANSWER in attempt(web, "wrong guess 1").get_data(as_text=True)
    [notice] = messages(subject="Your account was locked")
    assert "http://portal.test/recover" in notice.body and "evil.example" not in notice.body


def test_a_refusal_while_locked_is_logged_as_such_with_the_account_and_address(web, target):
    configure(**{"lockout.account_failures": 3, "captcha.mode": "off"})
    for _ in range(3):
        attempt(web, "wrong guess 1")
    attempt(web, RIGHT)
    last = events("login_failed")[-1]
    assert (last.user_id, last.login, last.detail, last.ip) == (
        target.id, "target@example.com", "account locked", "127.0.0.1")
