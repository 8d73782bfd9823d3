"""Captcha: ALTCHA solved once, asked after failures; reCAPTCHA on loopback, only with its keys."""

import re
import time

import pytest
from flask import g
from sqlalchemy import select

from portal.extensions import db
from portal.models import PendingRegistration
from portal.services import compliance, settings
from tests.security_settings import security_form
from tests.web import WebClient, solve_altcha

GOOD = {"email": "new@example.com", "name": "Rowan Quill", "password": "violet kettle moon",
        "confirm": "violet kettle moon"}


def configure(**values):
    settings.update(values)
    db.session.commit()


def pending():
    return db.session.execute(select(PendingRegistration.email)).scalars().all()


def test_registration_needs_a_solved_altcha(web):
    body = web.post_form("/register", {**GOOD, "altcha": ""}).get_data(as_text=True)
    assert "Please complete the captcha." in body and 'value="Rowan Quill"' in body
    forged = web.post_form("/register", {**GOOD, "altcha": "eyJmb3JnZWQiOiB0cnVlfQ=="})
    assert "Please complete the captcha." in forged.get_data(as_text=True)
    assert pending() == []
    assert "Check your email" in web.post_form("/register", GOOD).get_data(as_text=True)


def test_a_solution_works_once(web):
    payload = solve_altcha(web.client, "/captcha/altcha")
    assert "Check your email" in web.post_form("/register", {**GOOD, "altcha": payload}
                                               ).get_data(as_text=True)
    replay = web.post_form("/register", {**GOOD, "email": "second@example.com", "altcha": payload})
    assert "This captcha was already used." in replay.get_data(as_text=True)
    assert pending() == ["new@example.com"]


def test_a_solution_is_spent_even_when_the_form_is_refused(web):
    """Otherwise one solved challenge would try passwords or addresses until a form went through."""
    payload = solve_altcha(web.client, "/captcha/altcha")
    refused = web.post_form("/register", {**GOOD, "confirm": "another kettle", "altcha": payload})
    assert "The passwords do not match." in refused.get_data(as_text=True)
    replay = web.post_form("/register", {**GOOD, "altcha": payload})
    assert "This captcha was already used." in replay.get_data(as_text=True)
    assert pending() == []


def test_challenges_are_throttled_per_address(app, make_app):
    client = make_app(RATELIMIT_CAPTCHA_PER_IP="2 per minute").test_client()
    assert [client.get("/captcha/altcha").status_code for _ in range(3)] == [200, 200, 429]


def test_challenge_is_signed_and_short_lived(web):
    response = web.get("/captcha/altcha")
    challenge = response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    assert challenge["parameters"]["algorithm"] == "PBKDF2/SHA-256" and challenge["signature"]
    assert time.time() < challenge["parameters"]["expiresAt"] <= time.time() + 10 * 60


def test_captcha_off_means_no_widget(web):
    configure(**{"captcha.mode": "off"})
    assert "<altcha-widget" not in web.get("/register").get_data(as_text=True)
    assert "Check your email" in web.client.post("/register", data={
        **GOOD, "csrf_token": web.csrf_token("/register")}).get_data(as_text=True)


def test_login_asks_after_failures_from_one_address(web, client_user):
    configure(**{"captcha.after_failures": 2})
    assert "<altcha-widget" not in web.get("/login").get_data(as_text=True)
    for attempt in range(2):
        failed = web.post_form("/login", {"login": "client@example.com", "password": "wrong guess 1"})
        assert failed.status_code == 200 and "Wrong login or password." in failed.get_data(as_text=True)
        # the failure that reaches the threshold already shows the widget
        assert ("<altcha-widget" in failed.get_data(as_text=True)) == (attempt == 1)
    token = web.csrf_token("/login")
    refused = web.client.post("/login", data={"csrf_token": token, "login": "client@example.com",
                                              "password": "client password 1"})
    assert "Please complete the captcha." in refused.get_data(as_text=True)
    assert web.login("client@example.com", "client password 1").status_code == 302


def test_recover_asks_after_failures_too(web):
    configure(**{"captcha.after_failures": 1})
    assert "<altcha-widget" not in web.get("/recover").get_data(as_text=True)
    web.post_form("/login", {"login": "ghost@example.com", "password": "wrong guess 1"})
    assert "<altcha-widget" in web.get("/recover").get_data(as_text=True)


@pytest.fixture
def recaptcha_web(app, make_app, recaptcha):
    """reCAPTCHA against the loopback verify server; TESTING off, or Flask-WTF skips the check."""
    configure(**{"captcha.mode": "recaptcha"})
    return WebClient(make_app(TESTING=False, **recaptcha.app_config()).test_client())


def test_recaptcha_widget_and_its_csp(recaptcha_web, recaptcha):
    response = recaptcha_web.get("/register")
    body = response.get_data(as_text=True)
    assert f"<script src='{recaptcha.script_url}'" in body and 'class="g-recaptcha"' in body
    origin = re.match(r"https?://[^/]+", recaptcha.script_url).group(0)
    assert f"script-src 'self' {origin}" in response.headers["Content-Security-Policy"]
    assert origin not in recaptcha_web.get("/login").headers["Content-Security-Policy"]


def test_recaptcha_verified_by_the_server_once(recaptcha_web, recaptcha):
    token = recaptcha.issue_token()
    ok = recaptcha_web.post_form("/register", {**GOOD, "g-recaptcha-response": token})
    assert "Check your email" in ok.get_data(as_text=True)
    assert recaptcha.requests[-1]["secret"] == recaptcha.secret
    again = recaptcha_web.post_form("/register", {**GOOD, "email": "b@example.com",
                                                  "g-recaptcha-response": token})
    assert "Please complete the captcha." in again.get_data(as_text=True)
    missing = recaptcha_web.post_form("/register", {**GOOD, "email": "c@example.com"})
    assert "Please complete the captcha." in missing.get_data(as_text=True)
    assert pending() == ["new@example.com"]


def test_recaptcha_server_down_is_a_form_error(recaptcha_web, recaptcha):
    recaptcha.fail_with(500)
    body = recaptcha_web.post_form("/register", {**GOOD, "g-recaptcha-response": "x"}
                                   ).get_data(as_text=True)
    assert "The captcha could not be checked. Please try again." in body


# reCAPTCHA needs its keys ----------------------------------------------------------------------
RECAPTCHA_NEEDS_KEYS = ("Google reCAPTCHA needs RECAPTCHA_PUBLIC_KEY and RECAPTCHA_PRIVATE_KEY "
                        "in the configuration: set both, or choose another captcha. Until then ALTCHA is used.")


def stored(key: str):
    """The value in the database now (not this context's per-request cache)."""
    g.pop("_settings_cache", None)
    return settings.get(key)


def test_recaptcha_without_its_keys_is_refused_beside_the_field(app, staff_web):
    form = security_form(captcha__mode="recaptcha", password__min_length="14")
    response = staff_web.post_form("/admin/settings/security", form)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<p class="error" id="captcha__mode-error">{RECAPTCHA_NEEDS_KEYS}</p>' in body
    assert '<option selected value="recaptcha">' in body and 'value="14"' in body  # typed, kept
    assert stored("captcha.mode") == "altcha" and stored("password.min_length") == 12  # not saved
    assert "<altcha-widget" in WebClient(app.test_client()).get("/register").get_data(as_text=True)


def test_recaptcha_with_both_keys_is_saved(make_app, staff_user, recaptcha):
    web = WebClient(make_app(**recaptcha.app_config()).test_client())
    web.login("boss", "staff password 1")
    response = web.post_form("/admin/settings/security", security_form(captcha__mode="recaptcha"))
    assert response.status_code == 302 and stored("captcha.mode") == "recaptcha"
    without_secret = WebClient(make_app(RECAPTCHA_PUBLIC_KEY=recaptcha.site_key).test_client())
    without_secret.login("boss", "staff password 1")
    resaved = without_secret.post_form("/admin/settings/security", security_form())
    assert RECAPTCHA_NEEDS_KEYS in resaved.get_data(as_text=True)


def test_recaptcha_stored_before_its_keys_went_is_flagged_and_altcha_stands_in(staff_web, make_app):
    """Keys removed from the configuration after reCAPTCHA was chosen: nobody is locked out of
    registration (and captcha-gated sign-in); the page says why, and nothing goes to Google."""
    configure(**{"captcha.mode": "recaptcha"})
    page = staff_web.get("/admin/settings/security").get_data(as_text=True)
    assert f'<p class="error" id="captcha__mode-error">{RECAPTCHA_NEEDS_KEYS}</p>' in page
    register = WebClient(make_app(TESTING=False).test_client()).get("/register").get_data(as_text=True)
    assert "<altcha-widget" in register and "g-recaptcha" not in register
    assert ("recaptcha", False) in [(party.key, on) for party, on, _basis in compliance.transfer_bases()]


@pytest.mark.parametrize("typed", [("client@example.com", "client@example.com"),
                                   ("CLIENT@example.com", "Client@Example.com")], ids=["as is", "case changed"])
def test_login_asks_after_failures_of_one_login_from_many_addresses(app, client_user, typed):
    """However the login was capitalised from address to address."""
    configure(**{"captcha.after_failures": 2})
    for address, login in zip(("198.51.100.7", "203.0.113.7"), typed, strict=True):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        WebClient(client).post_form("/login", {"login": login, "password": "wrong guess 1"})
    fresh = app.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    web = WebClient(fresh)
    token = web.csrf_token("/login")
    refused = fresh.post("/login", data={"csrf_token": token, "login": "client@example.com",
                                         "password": "client password 1"})
    assert "Please complete the captcha." in refused.get_data(as_text=True)
