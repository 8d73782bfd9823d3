"""Production setup: the real client address behind a trusted proxy, Secure cookies, gunicorn's log,
and a stopping worker's queued mail."""

import secrets
import threading
import time

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuthEvent
from portal.services import settings
from portal.services.client_ip import client_network
from tests.fraud_support import MOBILE_GB, MOBILE_GB_2, protect
from tests.live import LiveBrowser
from tests.outbox import sms_count
from tests.web import WebClient

PROXY = "127.0.0.1"
BEHIND_PROXY = {"PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 1}
WRONG = "Wrong login or password."


def failed_login(web, login: str, peer: str, forwarded_for: str | None = None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    token = web.csrf_token("/login")
    return web.post("/login", data={"csrf_token": token, "login": login, "password": "wrong"},
                    headers=headers, environ_base={"REMOTE_ADDR": peer})


def logged_ip(login: str) -> str:
    return db.session.execute(
        select(AuthEvent.ip).where(AuthEvent.login == login).order_by(AuthEvent.id.desc())
    ).scalars().first()


def test_auth_log_has_the_address_the_proxy_saw(app, make_app):
    web = WebClient(make_app(**BEHIND_PROXY).test_client())
    failed_login(web, "a@example.com", PROXY, "203.0.113.7")
    assert logged_ip("a@example.com") == "203.0.113.7"


def test_forged_forwarded_for_through_the_proxy_is_ignored(app, make_app):
    """The proxy appends the address it saw; whatever the client put before it does not count."""
    web = WebClient(make_app(**BEHIND_PROXY).test_client())
    failed_login(web, "b@example.com", PROXY, "6.6.6.6, 203.0.113.7")
    assert logged_ip("b@example.com") == "203.0.113.7"


def test_forwarded_for_from_outside_the_proxy_is_ignored(app, make_app):
    web = WebClient(make_app(**BEHIND_PROXY).test_client())
    failed_login(web, "c@example.com", "198.51.100.9", "6.6.6.6")
    assert logged_ip("c@example.com") == "198.51.100.9"


def test_behind_the_proxy_on_a_unix_socket_each_client_is_the_address_it_forwards(app, make_app):
    """gunicorn on a unix socket gives no peer address: the proxy is the socket's only caller."""
    web = WebClient(make_app(RATELIMIT_LOGIN_PER_IP="2 per minute", **BEHIND_PROXY).test_client())
    failed_login(web, "e@example.com", "", "203.0.113.8")
    assert logged_ip("e@example.com") == "203.0.113.8"
    statuses = [failed_login(web, "f@example.com", "", f"198.51.100.{n}").status_code for n in range(3)]
    assert statuses == [200, 200, 200]  # three clients, not one shared budget


def test_without_proxy_fix_forwarded_for_is_never_trusted(app, make_app):
    web = WebClient(make_app().test_client())
    failed_login(web, "d@example.com", PROXY, "6.6.6.6")
    assert logged_ip("d@example.com") == PROXY


def test_rate_limit_counts_the_real_client_behind_the_proxy(app, make_app):
    web = WebClient(make_app(RATELIMIT_LOGIN_PER_IP="2 per minute", **BEHIND_PROXY).test_client())
    statuses = [failed_login(web, f"e{i}@example.com", PROXY, forged + "203.0.113.20").status_code
                for i, forged in enumerate(["", "1.1.1.1, ", "2.2.2.2, "])]
    assert statuses == [200, 200, 429]  # forged prefixes do not buy new budgets
    assert failed_login(web, "f@example.com", PROXY, "203.0.113.21").status_code == 200
    # Without a trusted proxy every client behind it would share one budget: the peer counts.
    direct = failed_login(web, "g@example.com", "198.51.100.30", "203.0.113.22")
    assert direct.status_code == 200 and logged_ip("g@example.com") == "198.51.100.30"


def test_per_address_limits_count_an_ipv6_client_by_its_64(app, make_app):
    """A subscriber holds a whole /64: each of its addresses must not buy a fresh budget."""
    web = WebClient(make_app(RATELIMIT_LOGIN_PER_IP="2 per minute").test_client())
    statuses = [failed_login(web, f"v{i}@example.com", peer).status_code
                for i, peer in enumerate(["2001:db8:0:7::1", "2001:db8:0:7::2", "2001:db8:0:7:ffff::9"])]
    assert statuses == [200, 200, 429]
    assert failed_login(web, "w@example.com", "2001:db8:0:8::1").status_code == 200  # the next /64
    assert logged_ip("v1@example.com") == "2001:db8:0:7::2"  # logs keep the address itself


@pytest.mark.parametrize("peer, network", [
    ("203.0.113.7", "203.0.113.7"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("2001:db8:0:7:1:2:3:4", "2001:db8:0:7::/64"),
])
def test_client_network(app, peer, network):
    with app.test_request_context(environ_base={"REMOTE_ADDR": peer}):
        assert client_network() == network


def test_https_behind_the_proxy_secure_cookies_and_hsts(make_app, factories):
    factories.client_user(email="s@example.com", password="client password 1")
    web = WebClient(make_app(PUBLIC_URL="https://portal.example", **BEHIND_PROXY).test_client())
    token = web.csrf_token("/login")
    response = web.post("/login", data={"csrf_token": token, "login": "s@example.com",
                                        "password": "client password 1"},
                        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9",
                                 "Referer": "https://localhost/login"})  # Flask-WTF checks it on https
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("portal_session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    # A client reaching the server directly cannot claim https by a header.
    direct = web.get("/login", headers={"X-Forwarded-Proto": "https"},
                     environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert "Strict-Transport-Security" not in direct.headers


def test_gunicorn_access_log_keeps_secrets_out(gunicorn):
    server = gunicorn()
    browser = LiveBrowser(server.url)
    token = secrets.token_urlsafe(32)
    assert browser.get(f"/register/confirm/{token}?next=secret-query").status_code == 200
    browser.get("/login", headers={"X-Forwarded-For": "203.0.113.44"})
    server.stop()
    log = server.output()
    assert "/register/confirm/[redacted]" in log
    assert token not in log and "secret-query" not in log
    assert "203.0.113.44" in log  # the proxy's X-Forwarded-For is in the access log


def test_a_stopping_worker_sends_the_mail_it_queued_first(gunicorn, smtp, factories):
    """Recovery links are mailed after the answer; a worker stopped (or recycled) with one still
    in its queue hands it over before it exits."""
    factories.client_user(email="queued@example.com")
    server = gunicorn(workers=1, **smtp.app_config())
    smtp.hold()
    try:
        answer = LiveBrowser(server.url).post_form(
            "/recover", {"login": "queued@example.com", "channel": "email"}, page="/recover")
        assert "Check your email" in answer.text
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        deadline = time.monotonic() + 10
        while "Worker exiting" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Worker exiting" in server.output()
    finally:
        smtp.release()  # the relay answers only once the worker is on its way out
    stopping.join()
    assert "/recover/reset/" in smtp.wait_for(lambda m: "queued@example.com" in m.to).body


def test_with_request_throttling_off_the_lock_counts_and_sms_budgets_still_hold(gunicorn, factories):
    """RATELIMIT_ENABLED = False switches Flask-Limiter off; the failure counts behind the address
    lock and the SMS budgets keep their own store. A fresh process, as in production, where no
    earlier app has left Flask-Limiter a store."""
    settings.update({"lockout.ip_failures": 3, "lockout.account_failures": 50, "captcha.mode": "off"})
    protect()
    user = factories.client_user(email="budgeted@example.com")
    server = gunicorn(workers=1, RATELIMIT_ENABLED=False, FRAUD_SMS_PER_ACCOUNT="1 per hour")
    browser = LiveBrowser(server.url)
    assert browser.login(user.email, "client password 1").headers["Location"] == "/home"
    assert browser.post_form("/verify-phone/send", {"phone": MOBILE_GB}, page="/verify-phone").status_code == 302
    refused = browser.post_form("/verify-phone/send", {"phone": MOBILE_GB_2}, page="/verify-phone")
    assert "Too many codes were requested" in refused.text and sms_count() == 1

    stranger = LiveBrowser(server.url)
    for login in ("a@example.com", "b@example.com", "c@example.com"):
        assert WRONG in stranger.login(login, "wrong guess 1").text
    assert "Too many failed attempts from your network." in stranger.login(user.email, "client password 1").text
