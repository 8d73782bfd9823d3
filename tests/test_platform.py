"""App factory, configuration precedence, headers and error pages."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from portal import create_app
from portal.services.errors import DomainError
from portal.settings_loader import _instance_secret_key


def test_config_precedence(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text(
        "PUBLIC_URL = 'https://from-instance.example'\nPassExpirePeriod = 90\nSMS_SENDER = 'Inst'\n"
    )
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PORTAL_SMS_SENDER", "FromEnv")
    monkeypatch.setenv("PORTAL_SESSION_IDLE_MINUTES", "15")
    app = create_app({"SESSION_IDLE_MINUTES": 5})
    assert app.config["PUBLIC_URL"] == "https://from-instance.example"  # instance over default
    assert app.config["PASS_EXPIRE_PERIOD"] == 90  # BILLmanager's spelling accepted
    assert app.config["SMS_SENDER"] == "FromEnv"  # environment over instance
    assert app.config["SESSION_IDLE_MINUTES"] == 5  # test mapping over environment
    assert app.config["SESSION_COOKIE_SECURE"] is True  # https PUBLIC_URL
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'portal.sqlite'}"


@pytest.mark.parametrize("value", ["abc", "-5", "1.5", "true", "1e9", "1000000"])
def test_a_bad_pass_expire_period_in_the_environment_stops_startup(tmp_path, monkeypatch, value):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PORTAL_PASS_EXPIRE_PERIOD", value)
    with pytest.raises(ValueError, match=r"^PASS_EXPIRE_PERIOD .*a whole number of days from 0 "):
        create_app()


@pytest.mark.parametrize("variable, value, refusal", [
    ("MAIL_BACKEND", "sendmail", r"^MAIL_BACKEND is 'sendmail'; it takes 'console' or 'smtp'"),
    ("SMS_BACKEND", "twilio", r"^SMS_BACKEND is 'twilio'; it takes 'console' or 'vonage'"),
    ("SMS_BACKEND", "vonage", r"^SMS_BACKEND is 'vonage' but VONAGE_API_KEY and VONAGE_API_SECRET are not"),
    ("MAIL_PORT", "abc", r"^MAIL_PORT is 'abc'; it takes a whole number"),
    ("RATELIMIT_FAIL_CLOSED", "maybe", r"^RATELIMIT_FAIL_CLOSED is 'maybe'; it takes true or false"),
    ("PUBLIC_URL", "portal.example.com", r"^PUBLIC_URL is 'portal.example.com'; it takes the address"),
    ("PUBLIC_URL", "ftp://portal.example.com", r"^PUBLIC_URL is 'ftp://"),
])
def test_a_setting_that_cannot_work_stops_startup_naming_its_key(tmp_path, monkeypatch, variable, value, refusal):
    """Not a 500 at the first email or SMS (and an unknown backend there told who had an account)."""
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv(f"PORTAL_{variable}", value)
    with pytest.raises(ValueError, match=refusal):
        create_app()


BAD_MAIL_PORT = "MAIL_PORT is 'abc'; it takes a whole number (in the environment, PORTAL_MAIL_PORT=...)."


def _run_with_bad_setting(tmp_path, *command) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_MAIL_PORT": "abc"}
    return subprocess.run([sys.executable, "-m", *command], cwd=Path(__file__).parents[1], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", [["db", "upgrade"], ["purge-auth-log"], ["run", "--port", "0"]])
def test_the_cli_names_a_bad_setting_in_one_line_not_a_traceback(tmp_path, command):
    done = _run_with_bad_setting(tmp_path, "flask", "--app", "portal", *command)
    assert (done.returncode, done.stderr) == (1, f"Error: {BAD_MAIL_PORT}\n")


def test_gunicorn_names_a_bad_setting_and_stops_instead_of_restarting_workers(tmp_path):
    # One worker: with several failing at once, gunicorn itself may trip over the second while halting.
    done = _run_with_bad_setting(tmp_path, "gunicorn", "--workers", "1", "--bind", "127.0.0.1:0", "wsgi:app")
    log = done.stdout + done.stderr  # gunicorn.conf.py: the error log on stdout, the failure on stderr
    assert done.returncode == 4, log[-2000:]  # gunicorn's "App failed to load": it halts
    assert f"portal configuration: {BAD_MAIL_PORT}" in log and "Traceback" not in log


def test_settings_written_as_text_mean_what_they_say(tmp_path, monkeypatch):
    """Python's False in an environment variable is the text 'False', which Flask keeps as a
    string, and a non-empty string is true: it once turned fail-closed and STARTTLS on."""
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "config.py").write_text("MAIL_BACKEND = 'SMTP'\nMAIL_PORT = '587'\n")
    monkeypatch.setenv("PORTAL_RATELIMIT_FAIL_CLOSED", "False")
    monkeypatch.setenv("PORTAL_MAIL_USE_TLS", "yes")
    monkeypatch.setenv("PORTAL_PUBLIC_URL", "HTTPS://Portal.Example.com")
    config = create_app().config
    assert (config["RATELIMIT_FAIL_CLOSED"], config["MAIL_USE_TLS"]) == (False, True)
    assert (config["MAIL_BACKEND"], config["MAIL_PORT"]) == ("smtp", 587)
    assert config["SESSION_COOKIE_SECURE"] is True and config["REMEMBER_COOKIE_SECURE"] is True


def test_two_first_starts_at_once_share_one_secret_key_and_an_empty_key_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _n: _instance_secret_key(tmp_path), range(8)))
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert sorted(path.name for path in tmp_path.iterdir()) == ["secret_key"]  # no drafts left
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ValueError, match="holds no usable key"):
        create_app()


@pytest.mark.parametrize("line", ["PassExpirePeriod = 'abc'", "PassExpirePeriod = -1",
                                  "PASS_EXPIRE_PERIOD = 90.5", "PASS_EXPIRE_PERIOD = None"])
def test_a_bad_pass_expire_period_in_the_instance_file_stops_startup(tmp_path, monkeypatch, line):
    (tmp_path / "config.py").write_text(line + "\n")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ValueError, match=r"^PASS_EXPIRE_PERIOD .*a whole number of days from 0 "):
        create_app()


def test_pass_expire_period_as_digits_in_the_instance_file_still_counts(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text("PassExpirePeriod = '30'\n")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    assert create_app().config["PASS_EXPIRE_PERIOD"] == 30


def test_secret_key_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_security_headers_on_pages(web):
    response = web.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "blob:" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HX-Request" in response.headers["Vary"]


def test_authenticated_pages_are_not_stored(client_web):
    response = client_web.get("/home")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_cookies_are_httponly_and_lax(web, client_user):
    response = web.login("client@example.com", "client password 1", remember=True)
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("portal_session="))
    remember_cookie = next(c for c in cookies if c.startswith("portal_remember="))
    for cookie in (session_cookie, remember_cookie):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_over_https(make_app, factories):
    factories.client_user(email="s@example.com", password="client password 1")
    app = make_app(PUBLIC_URL="https://portal.example")
    client = app.test_client()
    from tests.web import WebClient

    web = WebClient(client)
    token = web.csrf_token("/login")
    response = client.post("/login", data={"csrf_token": token, "login": "s@example.com",
                                           "password": "client password 1"},
                           base_url="https://portal.example")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("portal_session="))
    assert "Secure" in cookie


@pytest.mark.parametrize("htmx, fragment", [(False, False), (True, True)])
def test_error_pages_page_or_fragment(web, htmx, fragment):
    headers = {"HX-Request": "true"} if htmx else {}
    response = web.get("/no-such-page", headers=headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "This page does not exist." in body
    assert ("<html" in body) is not fragment


@pytest.mark.parametrize("who, menu_link", [("web", None), ("client_web", "/settings/general"),
                                             ("staff_web", "/admin/administrators")])
def test_error_pages_keep_the_area_menu_of_who_is_signed_in(request, who, menu_link):
    web = request.getfixturevalue(who)
    body = web.get("/no-such-page").get_data(as_text=True)
    assert "This page does not exist." in body
    if menu_link is None:
        assert '<nav aria-label="Main">' not in body
    else:
        assert f'href="{menu_link}"' in body.split('<nav aria-label="Main">')[1].split("</nav>")[0]


def test_unexpected_error_is_a_500_page_not_a_trace(make_app):
    app = make_app(TESTING=False)

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "secret detail" not in response.get_data(as_text=True)
    assert "Something went wrong" in response.get_data(as_text=True)


def test_a_refusal_no_view_placed_is_its_message_not_a_500(make_app):
    """The safety net under every view: a service's DomainError that escaped is still shown as the
    refusal it is, as a page, an htmx fragment or API JSON."""
    app = make_app(TESTING=False)

    @app.route("/refused")
    def refused():
        raise DomainError("This cannot be done now.")

    web = app.test_client()
    page, fragment = web.get("/refused"), web.get("/refused", headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 422
    assert "This cannot be done now." in page.get_data(as_text=True) and "<html" in page.get_data(as_text=True)
    assert 'data-status="422"' in fragment.get_data(as_text=True)


def test_nul_bytes_are_a_bad_request(web, client_user):
    """PostgreSQL cannot store them; refused before any view, for queries and forms alike."""
    assert web.get("/login", query_string={"next": "/home\x00"}).status_code == 400
    response = web.post_form("/login", {"login": "client@example.com\x00", "password": "x"})
    assert response.status_code == 400 and "could not be understood" in response.get_data(as_text=True)
