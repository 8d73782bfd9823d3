"""Faults: the rate-limit store stopped, the mail server away, database connections dropped."""

import re
import shutil
import subprocess
import time

import pytest
import redis
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.pool import NullPool

from portal.extensions import db
from portal.models import (
    AuthEvent,
    PendingEmailChange,
    PendingNotice,
    PendingRegistration,
    RecoveryLink,
    User,
)
from portal.services import background
from tests.live import LiveBrowser
from tests.machine import needs
from tests.outbox import messages
from tests.servers.smtp import free_port
from tests.signup import register
from tests.web import WebClient


class ThrowawayRedis:
    """A redis-server of this test alone (never the machine's shared one), killed at will."""

    def __init__(self):
        needs(shutil.which("redis-server") is not None, "redis-server (a throwaway one per test)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> "ThrowawayRedis":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def keys(self) -> list:
        client = redis.Redis.from_url(self.url)
        try:
            return client.keys("*")
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def throwaway_redis():
    server = ThrowawayRedis().start()
    yield server
    server.kill()


def wrong_password(browser: LiveBrowser, login: str):
    return browser.post_form("/login", {"login": login, "password": "not the password"})


def test_redis_stopped_throttling_falls_back_to_each_worker(gunicorn, factories, throwaway_redis):
    factories.client_user(email="r@example.com", password="client password 1")
    server = gunicorn(RATELIMIT_STORAGE_URI=throwaway_redis.url,
                             RATELIMIT_LOGIN_PER_IP="3 per minute")
    browser = LiveBrowser(server.url)
    assert browser.login("r@example.com", "client password 1").status_code == 302
    assert throwaway_redis.keys()  # the counters were in Redis
    throwaway_redis.kill()

    assert browser.get("/settings/general").status_code == 200
    assert LiveBrowser(server.url).get("/login").status_code == 200
    # Still throttled, now in each of the 2 workers' memory: 3 a minute each.
    stranger = LiveBrowser(server.url)
    statuses = [wrong_password(stranger, "r@example.com").status_code for _ in range(7)]
    assert 429 in statuses and all(status in (200, 429) for status in statuses), statuses
    assert "falling back to in-memory storage" in server.output()


def test_redis_stopped_fail_closed_refuses_credential_checks_only(gunicorn, factories,
                                                                  throwaway_redis):
    factories.client_user(email="c@example.com", password="client password 1")
    server = gunicorn(RATELIMIT_STORAGE_URI=throwaway_redis.url, RATELIMIT_FAIL_CLOSED=True)
    browser = LiveBrowser(server.url)
    assert browser.login("c@example.com", "client password 1").status_code == 302
    throwaway_redis.kill()

    assert browser.get("/settings/general").status_code == 200
    assert LiveBrowser(server.url).get("/login").status_code == 200
    refused = LiveBrowser(server.url).login("c@example.com", "client password 1")
    assert refused.status_code == 503 and "briefly unavailable" in refused.text
    assert "rate-limit storage unreachable" in server.output()

    throwaway_redis.start()  # back on the same port: sign-in works again at once
    assert LiveBrowser(server.url).login("c@example.com", "client password 1").status_code == 302


def test_redis_stopped_registration_mails_still_go(app, make_app, throwaway_redis):
    """The per-address budget of registration mails is in the store; with the store away the mail
    goes all the same (the per-IP limit and the captcha still hold), and the visitor sees nothing."""
    web = WebClient(make_app(RATELIMIT_STORAGE_URI=throwaway_redis.url).test_client())
    throwaway_redis.kill()
    assert "Check your email" in register(web, email="ann@example.com").get_data(as_text=True)
    assert len(messages(to="ann@example.com")) == 1


def test_mail_server_away_during_registration_then_retry(app, make_app, smtp):
    web = WebClient(make_app(**smtp.app_config()).test_client())
    smtp.stop()
    body = register(web, email="ann@example.com", name="Ann Example").get_data(as_text=True)
    assert "The email could not be sent. Please try again later." in body
    assert 'value="ann@example.com"' in body and 'value="Ann Example"' in body
    assert db.session.execute(select(PendingRegistration)).first() is None  # no dead link kept

    smtp.start()
    assert "Check your email" in register(web, email="ann@example.com", name="Ann Example").get_data(as_text=True)
    mail = smtp.wait_for(lambda m: "ann@example.com" in m.to)
    path = re.search(r"http://portal\.test(/\S+)", mail.body).group(1)
    assert web.post_form(path, {}).headers["Location"] == "/home"


def test_mail_server_away_during_a_second_reset_request_keeps_the_first_link(app, make_app, smtp, factories):
    factories.client_user(email="lost@example.com", password="client password 1")
    web = WebClient(make_app(**smtp.app_config()).test_client())
    web.post_form("/recover", {"login": "lost@example.com", "channel": "email"})
    first = smtp.wait_for(lambda m: "lost@example.com" in m.to)
    smtp.stop()
    assert web.post_form("/recover", {"login": "lost@example.com", "channel": "email"}).status_code == 200
    assert db.session.execute(select(func.count(RecoveryLink.id))).scalar_one() == 1  # the undelivered one is gone
    smtp.start()
    path = re.search(r"http://portal\.test(/\S+)", first.body).group(1)
    reset = web.post_form(path, {"password": "violet kettle moonlight", "confirm": "violet kettle moonlight"})
    assert reset.headers["Location"] == "/login"
    events = db.session.execute(select(AuthEvent.event).where(AuthEvent.event == "recovery_link_sent")).all()
    assert len(events) == 1  # the failed send is not logged as sent


def test_mail_server_away_during_a_password_change_the_change_stands(app, make_app, smtp, factories, caplog):
    """A notice tells of something done: it waits when it cannot go out, never undoes it, and goes
    out once the relay is back, without another request."""
    factories.client_user(email="keen@example.com", password="client password 1")
    portal = make_app(**smtp.app_config(), NOTICE_RETRY_SECONDS=0.2)
    web = WebClient(portal.test_client())
    web.login("keen@example.com", "client password 1")
    assert background.settle()  # its new-browser notice went out while the relay was there
    smtp.stop()
    changed = web.post_form("/settings/general/password", {
        "current_password": "client password 1", "password": "violet kettle moonlight",
        "confirm": "violet kettle moonlight"}, page_url="/settings/general")
    assert changed.status_code == 302
    assert "notice 'Your password was changed' to user" in caplog.text and "not sent" in caplog.text
    (notice,) = db.session.execute(select(PendingNotice)).scalars()
    assert notice.subject == "Your password was changed" and notice.attempts >= 1
    web.post_form("/logout", {}, page_url="/home")
    assert web.login("keen@example.com", "violet kettle moonlight").status_code == 302  # a known browser: no notice

    smtp.start()
    assert smtp.wait_for(lambda m: "keen@example.com" in m.to and m.subject == "Your password was changed",
                         timeout=15)
    assert background.settle()  # the retry that sent it has deleted it
    db.session.expire_all()
    assert db.session.execute(select(PendingNotice)).first() is None


def test_mail_server_away_during_email_change_then_retry(app, make_app, smtp, factories):
    user = factories.client_user(email="move@example.com", name="Old Name", password="client password 1")
    web = WebClient(make_app(**smtp.app_config()).test_client())
    web.login("move@example.com", "client password 1")
    smtp.stop()
    form = {"name": "New Name", "email": "moved@example.com", "email_password": "client password 1"}
    body = web.post_form("/settings/general", form).get_data(as_text=True)
    assert "The email could not be sent. Please try again later." in body
    assert 'value="New Name"' in body and 'value="moved@example.com"' in body
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Old Name"  # both or neither
    assert db.session.execute(select(PendingEmailChange)).first() is None  # no dead link kept

    smtp.start()
    assert web.post_form("/settings/general", form).status_code == 302
    mail = smtp.wait_for(lambda m: "moved@example.com" in m.to)
    path = re.search(r"http://portal\.test(/\S+)", mail.body).group(1)
    assert web.post_form(path, {}).headers["Location"] == "/settings/general"
    db.session.expire_all()
    assert (db.session.get(User, user.id).name, db.session.get(User, user.id).email) == (
        "New Name", "moved@example.com")
    assert smtp.wait_for(lambda m: "move@example.com" in m.to and m.subject == "Your email address was changed")


def drop_database_connections(app, opened: list) -> None:
    """What a database restart does to the portal: every connection it holds is gone."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql"):
        outsider = create_engine(uri, poolclass=NullPool)
        with outsider.begin() as conn:
            ended = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        outsider.dispose()
        assert ended >= 1
    else:
        assert opened
        for connection in opened:
            connection.close()


def test_database_connections_dropped_next_requests_succeed(app, make_app, factories):
    factories.client_user(email="d@example.com", password="client password 1")
    portal = make_app()
    opened = []
    with portal.app_context():
        event.listen(db.engine, "connect", lambda dbapi_connection, record: opened.append(dbapi_connection))
    web = WebClient(portal.test_client())
    web.login("d@example.com", "client password 1")
    assert web.get("/settings/security").status_code == 200

    drop_database_connections(portal, opened)

    assert web.get("/settings/security").status_code == 200
    other = WebClient(portal.test_client())
    other.login("d@example.com", "client password 1")
    assert web.post_form("/settings/security/sessions/end-others", {},
                         page_url="/settings/security").status_code == 302
    assert other.get("/home").status_code == 302  # the write went through: the other browser is out
