"""Fixtures: the database per run (SQLite, or PostgreSQL when asked), app, clients, live server, browser."""

import os
import secrets
import threading
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.serving import make_server

from portal import create_app
from portal.extensions import db
from portal.services import background, modules
from portal.services.access import seed_groups
from tests.access_helpers import browser
from tests.factories import Factories
from tests.machine import needs
from tests.web import WebClient

pytest_plugins = ["tests.servers.fixtures", "tests.oauth_helpers", "tests.recovery_helpers"]

FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
FAST_ALTCHA = {"ALTCHA_COST": 10, "ALTCHA_MAX_NUMBER": 50}  # proof of work a test solves at once


def _create_postgres_database(url: str) -> tuple[str, callable]:
    """A fresh database on the server of `url`, so parallel runs never share tables."""
    import psycopg

    parts = urlsplit(url)
    name = f"portal_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin_dsn = urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", "")), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite'}"
        return
    test_url, drop = _create_postgres_database(url)
    yield test_url
    drop()


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("instance")
    os.environ["PORTAL_INSTANCE_PATH"] = str(path)
    return path


@pytest.fixture(scope="session")
def base_config(database_url, instance_path):
    """What every test app shares: the run's database, fast hashing, real CSRF."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-" + secrets.token_hex(16),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_STORAGE_URI": os.environ.get("PORTAL_TEST_REDIS_URL") or "memory://",
        "RATELIMIT_KEY_PREFIX": f"test{os.getpid()}x{secrets.token_hex(4)}",
        "PUBLIC_URL": "http://portal.test",
        "SERVER_NAME": None,
        **FAST_ARGON2,
        **FAST_ALTCHA,
    }
    app = create_app(config)
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return config


@pytest.fixture
def make_app(base_config):
    """Build an app with overrides; every table is emptied after the test."""
    apps = []

    def build(**overrides):
        config = {**base_config, **overrides}
        app = create_app(config)
        app.test_client_class = FreshContextClient
        apps.append(app)
        return app

    yield build
    background.cancel_timers()
    background.settle()
    _forget_rate_limits(base_config)
    if apps:
        with apps[0].app_context():
            _empty_tables()
        for app in apps:
            with app.app_context():
                db.engine.dispose()


def _forget_rate_limits(config) -> None:
    """Redis keeps counters between tests (memory storage is new with each app): drop this run's."""
    url = config["RATELIMIT_STORAGE_URI"]
    if url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"*{config['RATELIMIT_KEY_PREFIX']}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _empty_tables() -> None:
    db.session.remove()
    tables = db.metadata.sorted_tables
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


class FreshContextClient(FlaskClient):
    """After each request and the deliveries it queued, the test's own session forgets what it had
    loaded."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        assert background.settle(), "a delivery queued by the request is still running"
        if has_app_context():
            db.session.expire_all()
        return response


@pytest.fixture
def app(make_app):
    """The app under test. The test body runs in the context of a twin app on the same
    database, so each request gets a fresh app context (and `g`), as in production."""
    app = make_app()
    twin = make_app()
    with twin.app_context():
        yield app


@pytest.fixture
def factories(app):
    return Factories(app)


@pytest.fixture
def web(app):
    """A test client that reads CSRF tokens from pages like a browser would."""
    return WebClient(app.test_client())


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def client_user(factories):
    return factories.client_user(email="client@example.com", password="client password 1")


@pytest.fixture
def staff_user(factories):
    return factories.staff(login="boss", password="staff password 1", full_access=True)


@pytest.fixture
def client_web(web, client_user):
    web.login("client@example.com", "client password 1")
    return web


@pytest.fixture
def staff_web(web, staff_user):
    web.login("boss", "staff password 1")
    return web


class LiveServer:
    """The real app served by werkzeug on a loopback port, in a thread."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(app, make_app):
    """Start with `live_server()` or `live_server(SETTING=value)`; stopped after the test.
    The test body keeps the `app` fixture's context for database access."""
    servers = []

    def start(**overrides):
        server = LiveServer(make_app(**{"PUBLIC_URL": "http://127.0.0.1", **overrides}))  # its port next
        server.app.config["PUBLIC_URL"] = server.url
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def running_as_root():
    """`flask temp-key` refuses anyone but root."""
    needs(os.geteuid() == 0, "root (issuing a temporary key)")


@pytest.fixture(scope="session")
def browser_instance():
    """Debian's Chromium driven by Playwright; in CI a browser that will not start fails the run."""
    chromium = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
    try:
        from playwright.sync_api import expect, sync_playwright

        expect.set_options(timeout=15_000)  # a loaded 2-core machine is slower than a laptop

        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
    except Exception as error:
        needs(False, f"a browser ({chromium}): {error}")
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def page(browser_instance):
    context = browser_instance.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def everyone(app, factories):
    """For sweeps over the url_map: a full-access administrator and a client owner, each signed in
    in a browser, and `ids` of one of everything a URL can point at."""
    seed_groups()
    modules.install(modules.GDPR_CLEAR_DATA)  # else Clear data's routes answer 404
    factories.staff(login="root2", password="staff password 1", full_access=True)
    owner = factories.client_user(email="owner@example.com", password="client password 1")
    member = factories.client_user(email="member@example.com", client=owner.client)
    db.session.commit()
    ids = {"user_id": member.id, "client_id": owner.client_id, "session_id": 1, "group_id": 1,
           "provider_id": owner.provider_id}
    return {"staff": browser(app, "root2", "staff password 1"),
            "client": browser(app, "owner@example.com", "client password 1"), "ids": ids}
