"""Pytest plugin: the loopback servers as fixtures (``pytest_plugins = ["tests.servers.fixtures"]``).

Session-scoped, started once per test process (each xdist worker gets its own ports):
``smtp_server`` (SmtpServer), ``vonage_server`` (VonageServer, TLS), ``oidc_server``
(OidcServer), ``recaptcha_server`` (RecaptchaServer).
Function-scoped, the same objects made clean for one test: ``smtp``, ``vonage``,
``recaptcha`` (collected state and faults cleared, the server restarted if a test stopped it)
and ``oidc`` (running; users persist across tests, so use unique subs).
``gunicorn(workers=2, **config)`` starts the portal under gunicorn on the run's database, with
the test config and ``config`` as PORTAL_* variables.

Point the app at them by merging their ``app_config()`` into the test config, e.g.

    app = create_app({"TESTING": True, **smtp.app_config(), **vonage.app_config(),
                      **oidc.app_config("keycloak"), **recaptcha.app_config()})

and for a subprocess (gunicorn), the same keys as PORTAL_* environment variables:

    env = {**os.environ, **portal_env(smtp_server.app_config(), vonage_server.app_config())}

(the Vonage CA travels as PORTAL_VONAGE_CA_BUNDLE; REQUESTS_CA_BUNDLE=vonage_server.ca_path
works too when that key is unset). In a test:

    def test_code_by_sms(client, vonage):
        client.post("/verify-phone", data={"Phone number": "+447700900001"})
        code = vonage.code_for("+447700900001")        # what the phone received
        vonage.fail_with(503)                            # or vonage.hang(), vonage.stop()

    def test_reset_mail(client, smtp):
        mail = smtp.wait_for(lambda m: "ann@example.com" in m.to)
        client.get(mail.links[0])
"""

import json
import os
from pathlib import Path

import pytest

from tests.servers.gunicorn import GunicornServer
from tests.servers.oidc import OidcServer
from tests.servers.recaptcha import RecaptchaServer
from tests.servers.smtp import SmtpServer
from tests.servers.vonage import VonageServer


def portal_env(*configs: dict) -> dict:
    """Config mappings as PORTAL_<KEY> variables that Flask's from_prefixed_env reads back."""
    return {f"PORTAL_{key}": value if isinstance(value, str) else json.dumps(value)
            for config in configs for key, value in config.items()}


@pytest.fixture(scope="session")
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vonage_server():
    server = VonageServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def oidc_server():
    server = OidcServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def recaptcha_server():
    server = RecaptchaServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server):
    smtp_server.reset()
    smtp_server.start()
    yield smtp_server
    smtp_server.reset()
    smtp_server.start()


@pytest.fixture
def vonage(vonage_server):
    vonage_server.reset()
    vonage_server.start()
    yield vonage_server
    vonage_server.reset()
    vonage_server.start()


@pytest.fixture
def oidc(oidc_server):
    yield oidc_server.start()


@pytest.fixture
def recaptcha(recaptcha_server):
    recaptcha_server.reset()
    recaptcha_server.start()
    yield recaptcha_server
    recaptcha_server.reset()
    recaptcha_server.start()


@pytest.fixture
def gunicorn(base_config):
    """Start the portal under gunicorn: `gunicorn(workers=2, **config)`; stopped after the test.

    The workers share the test database, secret and rate-limit store of `base_config`
    (overrides on top), and the checkout the tests import the portal from.
    """
    servers = []

    def start(workers: int = 2, **config):
        root = Path(__file__).resolve().parents[2]
        values = {key: value for key, value in {**base_config, **config}.items() if value is not None}
        env = {**portal_env(values), "PORTAL_INSTANCE_PATH": os.environ["PORTAL_INSTANCE_PATH"]}
        servers.append(GunicornServer(root, env, workers=workers).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
