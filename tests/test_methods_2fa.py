"""Two-factor: TOTP and SMS set-up and sign-in, recovery codes, the pending session, staff enrolment."""

import re
from datetime import timedelta

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuthEvent, RecoveryCode, SecondFactor, SignInCode, User
from portal.models.base import utcnow
from portal.services import auth_methods, gdpr, second_factor, settings
from tests.methods_helpers import enrol_totp, next_totp
from tests.outbox import code_in, messages, sms_count
from tests.web import WebClient

PASSWORD = "client password 1"


def password_step(web, login, password=PASSWORD):
    response = web.post_form("/login", {"login": login, "password": password})
    assert response.status_code == 302 and response.headers["Location"] == "/login/2fa"
    return response


def texted_sign_in_code(web, login, number) -> str:
    """Pass the password step, ask for an SMS code and read it from the newest text to `number`."""
    password_step(web, login)
    web.post_form("/login/2fa/sms", {}, page_url="/login/2fa")
    return code_in(number)


def test_totp_enrolment_needs_the_current_password(client_web, client_user):
    client_web.post_form("/settings/security/totp/begin", {}, page_url="/settings/security")
    body = client_web.post_form("/settings/security/totp/confirm",
                                {"current_password": "wrong password", "code": "123456"},
                                page_url="/settings/security").get_data(as_text=True)
    assert "The current password is not correct." in body
    factor = db.session.execute(select(SecondFactor)).scalar_one()
    assert factor.confirmed_at is None and "wrong password" not in body


def test_an_authenticator_set_up_is_shown_and_confirmed_only_in_the_browser_that_began_it(app, client_web, client_user):
    """A set-up begun with a stolen session must not wait on the owner's page for them to scan: its
    secret, which the thief has read, would become the owner's second factor."""
    security = "/settings/security"
    client_web.post_form("/settings/security/totp/begin", {}, page_url=security)
    stolen = re.search(r'class="totp-secret">([A-Z2-7]+)<', client_web.get(security).get_data(as_text=True)).group(1)
    owner = WebClient(app.test_client())
    owner.login("client@example.com", PASSWORD)
    page = owner.get(security).get_data(as_text=True)
    assert stolen not in page and "Set up an authenticator app" in page
    refused = owner.post_form("/settings/security/totp/confirm",
                              {"current_password": PASSWORD, "code": pyotp.TOTP(stolen).now()}, page_url=security)
    assert "Set up an authenticator app" in refused.get_data(as_text=True)
    assert second_factor.active_kinds(db.session.get(User, client_user.id)) == []
    secret, _codes = enrol_totp(owner, PASSWORD)  # the owner's own set-up works as ever
    assert secret != stolen


def test_totp_sign_in_and_code_single_use(app, client_web, client_user):
    secret, _codes = enrol_totp(client_web, PASSWORD)
    factor = db.session.execute(select(SecondFactor)).scalar_one()
    assert secret not in factor.secret  # encrypted at rest
    assert len(db.session.execute(select(RecoveryCode)).all()) == 10

    browser = WebClient(app.test_client())
    password_step(browser, "client@example.com")
    assert browser.get("/home").status_code == 302  # not signed in yet
    code = next_totp(secret, client_user.id)
    wrong = browser.post_form("/login/2fa", {"code": "000000" if code != "000000" else "111111"})
    assert "The code is wrong or has expired." in wrong.get_data(as_text=True)
    done = browser.post_form("/login/2fa", {"code": code})
    assert done.status_code == 302 and done.headers["Location"] == "/home"
    assert browser.get("/home").status_code == 200

    again = WebClient(app.test_client())
    password_step(again, "client@example.com")
    replay = again.post_form("/login/2fa", {"code": code})
    assert "The code is wrong or has expired." in replay.get_data(as_text=True)
    events = db.session.execute(select(AuthEvent.event, AuthEvent.detail)).all()
    assert ("login", "password+totp") in events and ("2fa_failed", None) in events


def test_recovery_codes_are_160_bits_in_even_groups_to_copy(client_web):
    _secret, codes = enrol_totp(client_web, PASSWORD)
    assert len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){7}", code) for code in codes), codes  # 32 × 5 bits


def test_recovery_code_works_once(app, client_web, client_user):
    _secret, codes = enrol_totp(client_web, PASSWORD)
    first = WebClient(app.test_client())
    password_step(first, "client@example.com")
    assert first.post_form("/login/2fa", {"code": codes[3].upper()}).headers["Location"] == "/home"
    second = WebClient(app.test_client())
    password_step(second, "client@example.com")
    body = second.post_form("/login/2fa", {"code": codes[3]}).get_data(as_text=True)
    assert "The code is wrong or has expired." in body
    assert db.session.execute(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).scalar_one()


def test_the_last_recovery_code_is_counted_in_the_singular(client_web, client_user):
    _secret, codes = enrol_totp(client_web, PASSWORD)
    rows = db.session.execute(select(RecoveryCode).where(RecoveryCode.user_id == client_user.id)).scalars().all()
    for row in rows[1:]:
        row.used_at = utcnow()
    db.session.commit()
    assert "1 recovery code left." in client_web.get("/settings/security").get_data(as_text=True)


def test_sms_second_factor(app, web, factories):
    user = factories.client_user(email="sms@example.com", phone="+447700900123", phone_verified_at=utcnow())
    settings.update({"fraud.brand": "AcmeHost"})
    db.session.commit()
    web.login("sms@example.com", PASSWORD)
    body = web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD},
                         page_url="/settings/security").get_data(as_text=True)
    assert "Your recovery codes" in body

    browser = WebClient(app.test_client())
    password_step(browser, "sms@example.com")
    assert "Send code" in browser.get("/login/2fa").get_data(as_text=True)
    browser.post_form("/login/2fa/sms", {}, page_url="/login/2fa")
    [sms] = messages(to="+447700900123")
    assert sms.body.startswith("Your AcmeHost sign-in code: ")  # the text names the service it is for
    code = code_in("+447700900123")
    assert browser.post_form("/login/2fa", {"code": code}).headers["Location"] == "/home"
    assert browser.get("/home").status_code == 200
    stored = db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "login",
                                                               AuthEvent.user_id == user.id)).scalars().all()
    assert "password+sms" in stored


def test_a_second_factor_added_to_another_keeps_the_recovery_codes(app, client_web, client_user):
    """Codes written down for the authenticator app must still work after SMS codes are turned on."""
    client_user.phone, client_user.phone_verified_at = "+447700900125", utcnow()
    db.session.commit()
    _secret, codes = enrol_totp(client_web, PASSWORD)
    enabled = client_web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD},
                                   page_url="/settings/security")
    assert "Your recovery codes stay as they were." in client_web.get(enabled.headers["Location"]).get_data(as_text=True)
    browser = WebClient(app.test_client())
    password_step(browser, "client@example.com")
    assert browser.post_form("/login/2fa", {"code": codes[0]}).headers["Location"] == "/home"


def test_each_change_of_second_factors_is_mailed_to_the_owner(client_web, client_user):
    """A change made with a stolen session and password does not go unseen; a refused one and
    one that changes nothing send nothing."""
    client_user.phone, client_user.phone_verified_at = "+447700900126", utcnow()
    db.session.commit()
    security = "/settings/security"
    told = len(messages(to="client@example.com"))  # of the sign-in
    enrol_totp(client_web, PASSWORD)
    client_web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD}, page_url=security)
    client_web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD}, page_url=security)
    client_web.post_form("/settings/security/recovery-codes", {"current_password": PASSWORD}, page_url=security)
    client_web.post_form("/settings/security/2fa/totp/remove", {"current_password": "wrong password"},
                         page_url=security)
    client_web.post_form("/settings/security/2fa/totp/remove", {"current_password": PASSWORD}, page_url=security)
    client_web.post_form("/settings/security/2fa/totp/remove", {"current_password": PASSWORD}, page_url=security)
    client_web.post_form("/settings/security/2fa/sms/remove", {"current_password": PASSWORD}, page_url=security)
    notices = messages(to="client@example.com")[told:]
    assert [mail.subject for mail in notices] == [
        "An authenticator app was added to your account",
        "SMS sign-in codes were turned on for your account",
        "New recovery codes were made for your account",
        "An authenticator app was removed from your account",
        "SMS sign-in codes were turned off for your account",
    ]
    assert all("from the address 127.0.0.1" in mail.body and "/recover" in mail.body for mail in notices)
    assert "Your password alone now signs you in." not in notices[3].body
    assert "Your password alone now signs you in." in notices[4].body


def test_a_wrong_password_is_said_under_the_field_of_the_step_that_was_sent(client_web, client_user):
    """Removing the app and making new recovery codes each have a password field: the error goes
    under the one that was used, marked for screen readers and focused, not atop the section."""
    enrol_totp(client_web, PASSWORD)
    body = client_web.post_form("/settings/security/recovery-codes", {"current_password": "wrong password"},
                                page_url="/settings/security").get_data(as_text=True)
    forms = {re.search(r'action="([^"]+)"', form).group(1): form for form in body.split("<form")[1:]}
    renew, remove = forms["/settings/security/recovery-codes"], forms["/settings/security/2fa/totp/remove"]
    assert "The current password is not correct." in renew and 'aria-invalid="true"' in renew
    assert "autofocus" in renew and "The current password is not correct." not in remove
    assert body.count("The current password is not correct.") == 1


def test_an_error_of_a_step_the_page_no_longer_offers_stays_atop_the_section(client_web, client_user):
    body = client_web.post_form("/settings/security/recovery-codes", {"current_password": PASSWORD},
                                page_url="/settings/security").get_data(as_text=True)
    section = body.split('id="two-factor"')[1].split("</section>")[0]
    assert section.count('class="error"') == 1 and "<form" not in section.split('class="error"')[0]


def test_the_notice_of_a_new_second_factor_puts_each_link_on_a_line_of_its_own(client_web, client_user):
    """A mail program (and the outbox) links a URL up to the next space: punctuation after it
    ("...security):") would end up in the link and break it."""
    enrol_totp(client_web, PASSWORD)
    [notice] = messages(to="client@example.com", subject="An authenticator app was added")
    lines = notice.body.splitlines()
    assert "http://portal.test/recover" in lines and "http://portal.test/settings/security" in lines
    assert all(re.fullmatch(r"https?://\S+", url) for url in re.findall(r"\S*https?://\S*", notice.body))


def test_sms_codes_go_only_to_a_verified_number(app, web, factories):
    """A changed or cleared number is not verified: no code is texted until it is again, and the
    person is told how to sign in meanwhile."""
    factories.client_user(email="moved@example.com", phone="+447700900124", phone_verified_at=utcnow())
    web.login("moved@example.com", PASSWORD)
    web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD}, page_url="/settings/security")
    for new_number in ("+447400123456", ""):
        changed = web.post_form("/settings/phone", {"phone": new_number, "current_password": PASSWORD},
                                page_url="/settings/general")
        assert changed.headers["Location"] == "/settings/general"
        browser = WebClient(app.test_client())
        password_step(browser, "moved@example.com")
        sent = browser.post_form("/login/2fa/sms", {}, page_url="/login/2fa")
        assert sent.status_code == 302
        assert "Your phone number is not verified" in browser.get("/login/2fa").get_data(as_text=True)
    assert sms_count() == 0


def test_sms_needs_a_verified_phone(client_web):
    body = client_web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD},
                                page_url="/settings/security").get_data(as_text=True)
    assert "Verify your phone number first." in body
    assert 'href="/verify-phone?next=' in body  # where to do it


def test_staff_without_a_verified_phone_are_pointed_to_the_authenticator_app(staff_web):
    body = staff_web.get("/settings/security").get_data(as_text=True)
    assert "Staff accounts have no verified phone number for SMS codes. Use an authenticator app." in body
    assert "<h1>My security</h1>" in body  # as in their menu: not the portal's Security settings
    assert "/verify-phone" not in body and "on the way to an order" not in body


def test_pending_session_is_refused_on_every_route(app, client_web, client_user):
    enrol_totp(client_web, PASSWORD)
    browser = WebClient(app.test_client())
    password_step(browser, "client@example.com")
    token = browser.csrf_token("/login/2fa")
    open_to_anyone = {"static", "auth.login", "auth.index", "auth.register", "auth.two_factor",
                      "auth.two_factor_sms", "auth.confirm_registration", "auth.confirm_registration_post",
                      "api.openapi", "dev.outbox"}
    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in open_to_anyone or getattr(view, "required_function", "x") is None:
            continue
        samples = {"kind": "totp", "provider": "google"}
        url = rule.build({arg: samples.get(arg, 1) for arg in rule.arguments}, append_unknown=False)[1]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            for headers in ({}, {"HX-Request": "true", "X-CSRFToken": token}):
                response = browser.open(url, method=method, headers=headers, data={"csrf_token": token})
                assert response.status_code in (302, 401), (rule.endpoint, method, response.status_code)  # sign in first
                if response.status_code == 302:
                    assert response.headers["Location"].startswith("/login"), rule.endpoint
                checked += 1
    assert checked > 20


def test_staff_without_second_factor_must_enrol(app, web, factories):
    factories.staff(login="chief", password="staff password 1", full_access=True, staff_2fa=True)
    web.login("chief", "staff password 1")
    for url in ("/admin/", "/admin/providers/auth-methods"):
        response = web.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/settings/security"
    htmx = web.get("/admin/", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/settings/security"
    page = web.get("/settings/security").get_data(as_text=True)
    assert "Staff accounts need a second factor." in page
    enrol_totp(web, "staff password 1")
    assert web.get("/admin/").status_code == 200


def test_a_requirement_nobody_can_enrol_for_locks_no_staff_member_out(app, web, factories):
    """TOTP switched off (in the database, past the form's refusal): SMS codes are on, but staff have
    no phone for them; the enrolment gate would be a dead end, so it stays open (Compliance says no)."""
    chief = factories.staff(login="chief", password="staff password 1", full_access=True, staff_2fa=True)
    settings.update({"methods.totp": False}, chief.provider_id)
    db.session.commit()
    assert auth_methods.switched_on("sms_2fa") is True
    web.login("chief", "staff password 1")
    assert web.get("/admin/").status_code == 200


def test_removing_a_factor_needs_the_password(client_web, client_user):
    enrol_totp(client_web, PASSWORD)
    refused = client_web.post_form("/settings/security/2fa/totp/remove", {"current_password": "nope"},
                                   page_url="/settings/security")
    assert "The current password is not correct." in refused.get_data(as_text=True)
    client_web.post_form("/settings/security/2fa/totp/remove", {"current_password": PASSWORD},
                         page_url="/settings/security")
    assert db.session.execute(select(SecondFactor)).first() is None
    assert db.session.execute(select(RecoveryCode)).first() is None


@pytest.mark.parametrize("limit", ["3 per minute"])
def test_codes_are_throttled_per_account(make_app, factories, limit):
    factories.client_user(email="slow@example.com")
    app = make_app(RATELIMIT_2FA_PER_ACCOUNT=limit)
    owner = WebClient(app.test_client())
    owner.login("slow@example.com", PASSWORD)
    enrol_totp(owner, PASSWORD)
    browser = WebClient(app.test_client())
    password_step(browser, "slow@example.com")
    statuses = [browser.post_form("/login/2fa", {"code": "000000"}).status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429


def test_asking_for_sms_codes_is_throttled_per_account(make_app, factories):
    """Whoever has the password cannot make the owner's phone ring on and on."""
    user = factories.client_user(email="sms@example.com", phone="+447700900123", phone_verified_at=utcnow())
    second_factor.enable_sms(user, PASSWORD)
    db.session.commit()
    browser = WebClient(make_app(RATELIMIT_2FA_PER_ACCOUNT="2 per minute").test_client())
    password_step(browser, "sms@example.com")
    statuses = [browser.post_form("/login/2fa/sms", {}, page_url="/login/2fa").status_code for _ in range(3)]
    assert statuses == [302, 302, 429]


@pytest.mark.parametrize("path", ["/settings/security/recovery-codes", "/settings/security/sms/enable",
                                  "/settings/security/totp/confirm", "/settings/security/2fa/totp/remove"])
def test_second_factor_changes_are_throttled_like_every_current_password_field(make_app, factories, path):
    factories.client_user(email="often@example.com", password=PASSWORD)
    web = WebClient(make_app(RATELIMIT_REAUTH_PER_ACCOUNT="2 per hour").test_client())
    web.login("often@example.com", PASSWORD)
    statuses = [web.post_form(path, {"current_password": "guess", "code": "123456"},
                              page_url="/settings/security").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_an_authenticator_secret_from_another_secret_key_is_a_wrong_code_not_a_500(app, client_web, client_user,
                                                                                    caplog):
    """After SECRET_KEY is replaced, TOTP secrets no longer decrypt: recovery codes still work."""
    secret, codes = enrol_totp(client_web, PASSWORD)
    factor = db.session.execute(select(SecondFactor)).scalar_one()
    factor.secret = Fernet(Fernet.generate_key()).encrypt(b"JBSWY3DPEHPK3PXP").decode()
    db.session.commit()
    browser = WebClient(app.test_client())
    password_step(browser, "client@example.com")
    refused = browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)})
    assert refused.status_code == 200 and "The code is wrong or has expired." in refused.get_data(as_text=True)
    assert "cannot be decrypted" in caplog.text
    assert browser.post_form("/login/2fa", {"code": codes[0]}).headers["Location"] == "/home"


def test_a_sign_in_waiting_for_its_code_ends_the_browsers_session(app, client_web, client_user):
    """Signing in again (here: password, then a code to come) ends the session this browser had:
    a copy of its cookie is dead at once."""
    enrol_totp(client_web, PASSWORD)
    earlier = client_web.get_cookie("portal_session").value
    response = client_web.post_form("/login", {"login": "client@example.com", "password": PASSWORD},
                                    page_url="/home")
    assert response.headers["Location"] == "/login/2fa"
    copy = app.test_client()
    copy.set_cookie("portal_session", earlier)
    assert copy.get("/home").status_code == 302


def test_a_pending_sign_in_lapses_after_ten_minutes(app, client_web, client_user):
    secret, _codes = enrol_totp(client_web, PASSWORD)
    browser = WebClient(app.test_client())
    password_step(browser, "client@example.com")
    with browser.session_transaction() as flask_session:
        flask_session["pending_2fa"] = {**flask_session["pending_2fa"],
                                        "since": flask_session["pending_2fa"]["since"] - 601}
    late = browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)}, page_url="/login")
    assert late.status_code == 302 and late.headers["Location"] == "/login"
    assert browser.get("/home").status_code == 302


ENDING_EVERY_SESSION = {
    "password change": ("/settings/general/password", {
        "current_password": PASSWORD, "password": "violet kettle under moonlight",
        "confirm": "violet kettle under moonlight"}, "/settings/general"),
    "sign out everywhere else": ("/settings/security/sessions/end-others", {}, "/settings/security"),
}


@pytest.mark.parametrize("action", ENDING_EVERY_SESSION)
def test_ending_every_session_ends_a_sign_in_waiting_for_its_code(app, client_web, client_user, action):
    """Someone who had the password and the second factor is half-way in: what the owner does to
    end every other session (a password change, "Sign out everywhere else") ends that half of one
    too, though it lives only in the other browser's cookie."""
    secret, _codes = enrol_totp(client_web, PASSWORD)
    intruder = WebClient(app.test_client())
    password_step(intruder, "client@example.com")
    path, fields, page = ENDING_EVERY_SESSION[action]
    assert client_web.post_form(path, fields, page_url=page).status_code == 302
    late = intruder.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)}, page_url="/login")
    assert late.status_code == 302 and late.headers["Location"] == "/login"
    assert intruder.get("/home").status_code == 302


def test_a_sign_in_begun_after_every_session_ended_goes_through(app, client_web, client_user):
    """Only the sign-ins waiting at that moment end: the next one finishes."""
    secret, _codes = enrol_totp(client_web, PASSWORD)
    client_web.post_form("/settings/security/sessions/end-others", {}, page_url="/settings/security")
    browser = WebClient(app.test_client())
    password_step(browser, "client@example.com")
    done = browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)}, page_url="/login")
    assert done.status_code == 302 and done.headers["Location"] == "/home"
    assert client_web.get("/home").status_code == 200


def test_codes_are_throttled_per_address_across_accounts(make_app, factories):
    """One address guessing second-factor codes for many accounts meets the per-IP limit."""
    app = make_app(RATELIMIT_2FA_PER_IP="2 per minute")
    browsers = []
    for email in ("first@example.com", "second@example.com"):
        factories.client_user(email=email)
        owner = WebClient(app.test_client())
        owner.login(email, PASSWORD)
        enrol_totp(owner, PASSWORD)
        browser = WebClient(app.test_client())
        password_step(browser, email)
        browsers.append(browser)
    statuses = [browsers[0].post_form("/login/2fa", {"code": "000000"}).status_code for _ in range(2)]
    statuses.append(browsers[1].post_form("/login/2fa", {"code": "000000"}).status_code)
    assert statuses == [200, 200, 429]


def test_an_sms_sign_in_code_dies_after_five_wrong_tries(make_app, factories):
    """Wrong tries are counted on the code itself, so the right one is refused after the fifth
    wrong one, however generous the rate limits and the account lock are."""
    factories.client_user(email="sms@example.com", phone="+447700900123", phone_verified_at=utcnow())
    settings.update({"lockout.account_failures": 10})
    db.session.commit()
    app = make_app(RATELIMIT_2FA_PER_ACCOUNT="1000 per minute", RATELIMIT_2FA_PER_IP="1000 per minute")
    owner = WebClient(app.test_client())
    owner.login("sms@example.com", PASSWORD)
    owner.post_form("/settings/security/sms/enable", {"current_password": PASSWORD}, page_url="/settings/security")
    browser = WebClient(app.test_client())
    code = texted_sign_in_code(browser, "sms@example.com", "+447700900123")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert "The code is wrong or has expired." in browser.post_form(
            "/login/2fa", {"code": wrong}).get_data(as_text=True)
    refused = browser.post_form("/login/2fa", {"code": code})
    assert refused.status_code == 200 and "The code is wrong or has expired." in refused.get_data(as_text=True)


def test_wrong_codes_after_the_right_password_lock_the_account_and_tell_the_owner(make_app, factories):
    """Typing the password again does not clear the count: whoever knows it gets five wrong codes
    in all, then the lock; the owner is told that the password itself is known. The owner's own
    browser still signs in through the lock."""
    user = factories.client_user(email="client@example.com", password=PASSWORD)
    app = make_app(RATELIMIT_2FA_PER_ACCOUNT="100 per minute", RATELIMIT_2FA_PER_IP="100 per minute")
    owner = WebClient(app.test_client())
    owner.login("client@example.com", PASSWORD)
    secret, _codes = enrol_totp(owner, PASSWORD)
    intruder = WebClient(app.test_client())
    for wrong_codes in (2, 2, 1):
        password_step(intruder, "client@example.com")
        for _ in range(wrong_codes):
            assert "The code is wrong or has expired." in intruder.post_form(
                "/login/2fa", {"code": "000000"}).get_data(as_text=True)
    assert db.session.get(User, user.id).locked_until is not None
    [notice] = messages(to="client@example.com", subject="Your account was locked")
    assert "someone knows your password" in notice.body
    late = intruder.post_form("/login/2fa", {"code": next_totp(secret, user.id)}, page_url="/login")
    assert late.status_code == 302 and late.headers["Location"] == "/login"
    assert intruder.get("/home").status_code == 302
    owner.post_form("/logout", {}, page_url="/home")
    password_step(owner, "client@example.com")
    assert owner.post_form("/login/2fa", {"code": next_totp(secret, user.id)}).headers["Location"] == "/home"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "/\\evil.example"])
def test_next_to_another_site_is_ignored_after_the_second_factor(app, client_web, client_user, target):
    secret, _codes = enrol_totp(client_web, PASSWORD)
    browser = WebClient(app.test_client())
    first = browser.post_form("/login", {"login": "client@example.com", "password": PASSWORD, "next": target})
    assert first.headers["Location"] == "/login/2fa"
    done = browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)})
    assert done.status_code == 302 and done.headers["Location"] == "/home"


def test_switching_sms_off_stops_a_code_already_sent_new_sends_and_enrolment(app, client_web, client_user):
    client_user.phone, client_user.phone_verified_at = "+447700900127", utcnow()
    db.session.commit()
    secret, _codes = enrol_totp(client_web, PASSWORD)
    client_web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD}, page_url="/settings/security")
    browser = WebClient(app.test_client())
    code = texted_sign_in_code(browser, "client@example.com", "+447700900127")
    auth_methods.save_switches(client_user.provider_id, {**auth_methods.current_values(client_user.provider_id),
                                                         "sms_2fa": False})
    db.session.commit()
    assert "Send code" not in browser.get("/login/2fa").get_data(as_text=True)
    browser.post_form("/login/2fa/sms", {}, page_url="/login/2fa")
    assert sms_count() == 1
    refused = browser.post_form("/login/2fa", {"code": code})  # sent before the switch
    assert refused.status_code == 200 and "The code is wrong or has expired." in refused.get_data(as_text=True)
    again = client_web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD},
                                 page_url="/settings/security")
    assert again.status_code == 404
    done = browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)})  # TOTP stays on
    assert done.headers["Location"] == "/home"


def test_second_factor_changes_are_in_the_auth_log_with_the_account_and_address(client_web, client_user):
    client_user.phone, client_user.phone_verified_at = "+447700900128", utcnow()
    db.session.commit()
    enrol_totp(client_web, PASSWORD)
    client_web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD}, page_url="/settings/security")
    client_web.post_form("/settings/security/2fa/sms/remove", {"current_password": PASSWORD},
                         page_url="/settings/security")
    rows = db.session.execute(select(AuthEvent).where(AuthEvent.event.in_(["2fa_enabled", "2fa_disabled"]))
                              .order_by(AuthEvent.id)).scalars().all()
    assert [(row.event, row.detail) for row in rows] == [
        ("2fa_enabled", "totp"), ("2fa_enabled", "sms"), ("2fa_disabled", "sms")]
    assert {(row.user_id, row.ip) for row in rows} == {(client_user.id, "127.0.0.1")}


def test_removing_the_last_factor_says_the_password_alone_signs_in_despite_a_half_done_set_up(client_web, client_user):
    """An authenticator app begun but never confirmed is no second factor: removing SMS codes, the
    only confirmed one, leaves the password alone, and the notice must say so."""
    client_user.phone, client_user.phone_verified_at = "+447700900129", utcnow()
    db.session.commit()
    security = "/settings/security"
    client_web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD}, page_url=security)
    client_web.post_form("/settings/security/totp/begin", {}, page_url=security)
    client_web.post_form("/settings/security/2fa/sms/remove", {"current_password": PASSWORD}, page_url=security)
    assert messages(to="client@example.com")[-1].subject == "SMS sign-in codes were turned off for your account"
    assert "Your password alone now signs you in." in messages(to="client@example.com")[-1].body


def test_dropping_a_set_up_left_half_done_is_no_change_to_mail(client_web, client_user):
    """An authenticator app begun and never confirmed was no second factor: removing it tells nobody."""
    told = messages(to="client@example.com")  # of the sign-in
    client_web.post_form("/settings/security/totp/begin", {}, page_url="/settings/security")
    client_web.post_form("/settings/security/2fa/totp/remove", {"current_password": PASSWORD},
                         page_url="/settings/security")
    assert db.session.execute(select(SecondFactor).where(SecondFactor.user_id == client_user.id)).first() is None
    assert messages(to="client@example.com") == told


def factor_state(user_id: int) -> tuple[list, list]:
    """What a refused change leaves as it was: the factors with their secrets, the recovery codes."""
    db.session.expire_all()
    return (sorted(db.session.execute(select(SecondFactor.kind, SecondFactor.secret)
                                      .where(SecondFactor.user_id == user_id)).all()),
            sorted(db.session.execute(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id)).scalars()))


@pytest.mark.parametrize("path", ["/settings/security/sms/enable", "/settings/security/recovery-codes"])
def test_turning_on_sms_codes_or_renewing_recovery_codes_needs_the_current_password(client_web, client_user, path):
    client_user.phone, client_user.phone_verified_at = "+447700900130", utcnow()
    db.session.commit()
    enrol_totp(client_web, PASSWORD)
    before = factor_state(client_user.id)
    body = client_web.post_form(path, {"current_password": "wrong password"},
                                page_url="/settings/security").get_data(as_text=True)
    assert "The current password is not correct." in body
    assert factor_state(client_user.id) == before


def test_renewed_recovery_codes_void_the_old_ones(app, client_web, client_user):
    _secret, old = enrol_totp(client_web, PASSWORD)
    body = client_web.post_form("/settings/security/recovery-codes", {"current_password": PASSWORD},
                                page_url="/settings/security").get_data(as_text=True)
    new = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", body)
    assert len(new) == 10 and not set(new) & set(old)
    browser = WebClient(app.test_client())
    password_step(browser, "client@example.com")
    refused = browser.post_form("/login/2fa", {"code": old[0]}).get_data(as_text=True)
    assert "The code is wrong or has expired." in refused
    assert browser.post_form("/login/2fa", {"code": new[0]}).headers["Location"] == "/home"


@pytest.mark.parametrize("spent", ["used", "expired"])
def test_an_sms_sign_in_code_works_once_and_for_five_minutes(app, factories, spent):
    user = factories.client_user(email="sms@example.com", phone="+447700900123", phone_verified_at=utcnow())
    second_factor.enable_sms(user, PASSWORD)
    db.session.commit()
    first = WebClient(app.test_client())
    code = texted_sign_in_code(first, "sms@example.com", "+447700900123")
    late = first
    if spent == "used":
        assert first.post_form("/login/2fa", {"code": code}).headers["Location"] == "/home"
        late = WebClient(app.test_client())
        password_step(late, "sms@example.com")
    else:
        row = db.session.execute(select(SignInCode)).scalar_one()
        assert row.expires_at <= utcnow() + timedelta(minutes=5)
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    refused = late.post_form("/login/2fa", {"code": code})
    assert refused.status_code == 200 and "The code is wrong or has expired." in refused.get_data(as_text=True)


def test_a_confirmed_authenticator_app_is_not_replaced_by_a_new_set_up(app, client_web, client_user):
    """Beginning a set-up asks for no password: it must not overwrite the secret in use."""
    secret, _codes = enrol_totp(client_web, PASSWORD)
    before = factor_state(client_user.id)
    begun = client_web.post_form("/settings/security/totp/begin", {}, page_url="/settings/security")
    assert "An authenticator app is set up already" in client_web.get(begun.headers["Location"]).get_data(as_text=True)
    assert factor_state(client_user.id) == before
    browser = WebClient(app.test_client())
    password_step(browser, "client@example.com")
    assert browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)}).headers["Location"] == "/home"


def test_an_account_closed_while_its_code_was_awaited_does_not_sign_in(app, client_web, client_user, staff_user):
    """Clear data deactivates the account at once and revokes its sessions batch by batch later:
    a sign-in half done ends with the deactivation, not with the batch."""
    secret, _codes = enrol_totp(client_web, PASSWORD)
    browser = WebClient(app.test_client())
    password_step(browser, "client@example.com")
    gdpr.start(client_user.client, staff_user, "staff password 1", client_user.client.name)
    late = browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)}, page_url="/login")
    assert late.status_code == 302 and late.headers["Location"] == "/login"
    assert browser.get("/home").status_code == 302
