"""Secret handling: no enumeration by argon2 work, argon2id, secrets hashed at rest, 128-bit tokens, session rotation, no passwords in logs, staff timeouts."""

import base64
import logging
import re
import time
from collections import Counter
from datetime import timedelta

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    ApiToken,
    AuditEvent,
    AuthEvent,
    PendingEmailChange,
    PendingRegistration,
    RecoveryCode,
    RecoveryLink,
    ResetCode,
    SignInCode,
    TempKey,
    User,
    UserSession,
)
from portal.models.base import utcnow
from portal.services import passwords, second_factor, settings, temp_keys
from portal.services.tokens import digest
from tests.api_helpers import make_token
from tests.methods_helpers import enrol_totp, next_totp
from tests.outbox import code_in
from tests.signup import register
from tests.web import WebClient

PASSWORD = "client password 1"
URLSAFE = re.compile(r"[A-Za-z0-9_-]+")


# --- helpers --------------------------------------------------------------------------------

@pytest.fixture
def argon2_calls(monkeypatch):
    """Counts argon2-cffi's hash and verify calls (the real ones still run)."""
    calls = Counter()
    for name in ("hash", "verify"):
        original = getattr(PasswordHasher, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(PasswordHasher, name, spy)
    return calls


def work(calls: Counter) -> tuple[int, int]:
    return calls["hash"], calls["verify"]


@pytest.fixture
def mail_app(app, make_app, smtp):
    """The portal sending real mail to the loopback SMTP server: the outbox table stays empty,
    so every table of the database can be searched for a mailed secret (the test body keeps
    the `app` fixture's context for database access)."""
    return make_app(**smtp.app_config())


def mailed_links(smtp, recipient: str, prefix: str) -> list[str]:
    """The paths under `prefix` of the links mailed to `recipient`, oldest first."""
    smtp.wait_for(lambda m: recipient in m.to and any(prefix in link for link in m.links))
    return [link.removeprefix("http://portal.test") for m in smtp.messages if recipient in m.to
            for link in m.links if link.startswith("http://portal.test" + prefix)]


def last_segment(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def database_values() -> list[str]:
    """Every non-empty value of every column of every table, as text, lower-cased."""
    db.session.commit()
    values = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                values += [str(value).lower() for value in row if value is not None]
    return values


def assert_only_hashes_at_rest(raw: list[str], stored: set[str], expected: set[str]) -> None:
    """The rows hold exactly the project's digests of what the person received, and no table
    holds any raw value."""
    assert stored == expected
    values = database_values()
    assert all(any(h.lower() in v for v in values) for h in expected)  # the dump sees the rows
    for secret in raw:
        hits = [v for v in values if secret.lower() in v]
        assert hits == [], f"raw secret found at rest: {hits}"


def urlsafe_bytes(token: str) -> int:
    assert URLSAFE.fullmatch(token), token
    return len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def assert_urlsafe_128_bits(first: str, second: str) -> None:
    assert first != second
    assert urlsafe_bytes(first) >= 16 and urlsafe_bytes(second) >= 16


def session_token(app, web) -> str:
    """The server-side session token carried in the browser's signed session cookie."""
    data = app.session_interface.get_signing_serializer(app).loads(web.get_cookie("portal_session").value)
    return data["_user_id"]


def signed_in_with(app, cookie: str, page: str = "/home") -> bool:
    browser = app.test_client()
    browser.set_cookie("portal_session", cookie)
    return browser.get(page).status_code == 200


def session_rows() -> list[UserSession]:
    db.session.expire_all()
    return list(db.session.execute(select(UserSession).order_by(UserSession.id)).scalars())


# --- 1. no enumeration by argon2 work ------------------------------------------------------------

def test_login_spends_one_argon2_verify_for_an_unknown_login_and_a_wrong_password(web, client_user,
                                                                                   argon2_calls):
    web.post_form("/login", {"login": "warm-up@example.com", "password": "anything at all"})  # builds the dummy
    work_of = {}
    for login in ("ghost@example.com", "client@example.com"):
        argon2_calls.clear()
        response = web.post_form("/login", {"login": login, "password": "wrong password 9"})
        assert "Wrong login or password." in response.get_data(as_text=True)
        work_of[login] = work(argon2_calls)
    assert work_of["ghost@example.com"] == work_of["client@example.com"] == (0, 1)


def test_login_spends_one_argon2_verify_for_a_locked_account_and_a_locked_address(web, client_user,
                                                                                   argon2_calls):
    """A lock skips the password check, not its time: otherwise a fast answer tells that the
    account exists and is locked (or that the address is)."""
    web.post_form("/login", {"login": "warm-up@example.com", "password": "anything at all"})  # builds the dummy
    client_user.locked_until = utcnow() + timedelta(minutes=15)
    db.session.commit()
    argon2_calls.clear()
    locked = web.post_form("/login", {"login": "client@example.com", "password": PASSWORD})
    assert "Wrong login or password." in locked.get_data(as_text=True)
    assert work(argon2_calls) == (0, 1)
    settings.update({"lockout.ip_failures": 1})
    db.session.commit()
    web.post_form("/login", {"login": "ghost@example.com", "password": "wrong password 9"})
    argon2_calls.clear()
    address = web.post_form("/login", {"login": "ghost@example.com", "password": "wrong password 9"})
    assert "Too many failed attempts from your network." in address.get_data(as_text=True)
    assert work(argon2_calls) == (0, 1)


def test_registration_hashes_the_password_once_for_a_known_and_an_unknown_email(web, client_user,
                                                                                 argon2_calls):
    work_of = {}
    for email in ("client@example.com", "newcomer@example.com"):
        argon2_calls.clear()
        response = register(web, email=email, name="Some One", password="typed password 42")
        assert "Check your email" in response.get_data(as_text=True)
        work_of[email] = work(argon2_calls)
    assert work_of["client@example.com"] == work_of["newcomer@example.com"] == (1, 0)


def test_recovery_by_email_spends_the_same_argon2_work_for_a_known_and_an_unknown_account(web, client_user,
                                                                                          argon2_calls):
    work_of = {}
    for login in ("client@example.com", "ghost@example.com"):
        argon2_calls.clear()
        response = web.post_form("/recover", {"login": login, "channel": "email"})
        assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
        work_of[login] = work(argon2_calls)
    assert db.session.execute(select(RecoveryLink)).scalar_one()  # the known account got its link
    assert work_of["client@example.com"] == work_of["ghost@example.com"]  # a link needs no argon2


def test_recovery_by_sms_spends_the_same_argon2_work_for_a_known_and_an_unknown_account(web, factories,
                                                                                        argon2_calls):
    factories.client_user(email="phone@example.com", phone="+447700900321", phone_verified_at=utcnow())
    work_of = {}
    for login in ("phone@example.com", "ghost@example.com"):
        argon2_calls.clear()
        response = web.post_form("/recover", {"login": login, "channel": "sms"})
        assert response.headers["Location"] == "/recover/code"
        work_of[login] = work(argon2_calls)
    owners = db.session.execute(select(ResetCode.user_id).order_by(ResetCode.id)).scalars().all()
    assert owners[0] is not None and owners[1] is None  # only the known account got a code
    assert work_of["phone@example.com"] == work_of["ghost@example.com"] == (1, 0)


# --- 2. argon2id ----------------------------------------------------------------------------------

def test_every_stored_password_hash_is_argon2id_with_the_configured_parameters(web, staff_user, factories):
    phone_user = factories.client_user(email="phone@example.com", phone="+447700900321",
                                       phone_verified_at=utcnow())
    register(web, password="typed password 42")
    pending = db.session.execute(select(PendingRegistration)).scalar_one()
    web.post_form("/recover", {"login": "phone@example.com", "channel": "sms"})
    code = db.session.execute(select(ResetCode)).scalar_one()
    hashes = [staff_user.password_hash, phone_user.password_hash, pending.password_hash, code.code_hash]
    for stored in hashes:
        assert stored.startswith("$argon2id$v=19$") and not passwords.hasher().check_needs_rehash(stored)
        assert "m=1024,t=1,p=1" in stored  # the configured (test) parameters


def test_a_hash_of_another_argon2_variant_becomes_argon2id_at_the_next_successful_login(app, web, client_user):
    argon2i = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.I).hash(PASSWORD)
    user = db.session.get(User, client_user.id)
    user.password_hash = argon2i
    db.session.commit()
    web.post_form("/login", {"login": "client@example.com", "password": "wrong password 9"})
    db.session.expire_all()
    assert db.session.get(User, client_user.id).password_hash == argon2i  # no rehash without the password
    web.login("client@example.com", PASSWORD)
    db.session.expire_all()
    upgraded = db.session.get(User, client_user.id).password_hash
    assert upgraded.startswith("$argon2id$") and not passwords.hasher().check_needs_rehash(upgraded)
    assert WebClient(app.test_client()).login("client@example.com", PASSWORD).status_code == 302



def test_a_wrong_password_against_a_hash_with_older_parameters_takes_a_current_verify_s_time(make_app):
    """Raising the argon2 parameters leaves old, cheaper hashes until their owners sign in: a
    failure against one must not answer faster than for an unknown login."""
    app = make_app(ARGON2_TIME_COST=8, ARGON2_MEMORY_COST=8192)
    stale = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)

    def seconds_to_fail(stored):
        started = time.perf_counter()
        assert not passwords.verify_password(stored, "wrong password 9")
        return time.perf_counter() - started

    with app.app_context():
        assert passwords.verify_password(stale, PASSWORD)  # the stale hash itself still works
        unknown = [seconds_to_fail(None) for _ in range(5)]
        older = [seconds_to_fail(stale) for _ in range(5)]
    # A padded failure sleeps to one of the process's recent current verifies (those above):
    # never shorter than the fastest of them. Unpadded, a t=1 hash fails in about a sixth.
    assert min(older) >= 0.9 * min(unknown)

# --- 3 and 4. secrets at rest are hashes; random values have 128 bits -----------------------------

def test_reset_link_token_is_stored_hashed_and_random(mail_app, smtp, client_user):
    web = WebClient(mail_app.test_client())
    for _ in range(2):
        assert "Check your email" in web.post_form("/recover", {"login": "client@example.com",
                                                                "channel": "email"}).get_data(as_text=True)
    smtp.wait_for(lambda m: len([x for x in smtp.messages if x.subject == "Reset your password"]) == 2)
    first, second = (last_segment(p) for p in mailed_links(smtp, "client@example.com", "/recover/reset/"))
    stored = set(db.session.execute(select(RecoveryLink.token_hash)).scalars())
    assert_only_hashes_at_rest([first, second], stored, {digest(second)})  # the newer link replaced the older
    assert_urlsafe_128_bits(first, second)


def test_registration_link_token_is_stored_hashed_and_random(mail_app, smtp):
    web = WebClient(mail_app.test_client())
    for _ in range(2):
        register(web, password="typed password 42")
    smtp.wait_for(lambda m: len([x for x in smtp.messages if "new@example.com" in x.to]) == 2)
    first, second = (last_segment(p) for p in mailed_links(smtp, "new@example.com", "/register/confirm/"))
    stored = set(db.session.execute(select(PendingRegistration.token_hash)).scalars())
    assert_only_hashes_at_rest([first, second], stored, {digest(first), digest(second)})
    assert_urlsafe_128_bits(first, second)


def test_email_change_link_token_is_stored_hashed_and_random(mail_app, smtp, client_user):
    web = WebClient(mail_app.test_client())
    web.login("client@example.com", PASSWORD)
    for address in ("first@example.com", "second@example.com"):
        web.post_form("/settings/general", {"name": "Client", "email": address, "email_password": PASSWORD})
    first = last_segment(mailed_links(smtp, "first@example.com", "/settings/email/confirm/")[0])
    second = last_segment(mailed_links(smtp, "second@example.com", "/settings/email/confirm/")[0])
    stored = set(db.session.execute(select(PendingEmailChange.token_hash)).scalars())
    assert_only_hashes_at_rest([first, second], stored, {digest(second)})
    assert_urlsafe_128_bits(first, second)


def test_temporary_key_is_stored_hashed_and_random(client_user):
    first, second = (last_segment(temp_keys.issue_key("client@example.com", 15)[1]) for _ in range(2))
    stored = set(db.session.execute(select(TempKey.key_hash)).scalars())
    assert_only_hashes_at_rest([first, second], stored, {digest(first), digest(second)})
    assert_urlsafe_128_bits(first, second)


def test_api_token_is_stored_hashed_and_random(client_web):
    first, second = make_token(client_web, name="one"), make_token(client_web, name="two")
    stored = set(db.session.execute(select(ApiToken.token_hash)).scalars())
    assert_only_hashes_at_rest([first, second], stored, {digest(first), digest(second)})
    assert first.startswith("pt_") and second.startswith("pt_")
    assert_urlsafe_128_bits(first.removeprefix("pt_"), second.removeprefix("pt_"))


def test_recovery_codes_are_stored_hashed_and_random(client_web, client_user):
    _secret, codes = enrol_totp(client_web, PASSWORD)
    normal = [code.replace("-", "") for code in codes]
    stored = set(db.session.execute(select(RecoveryCode.code_hash)).scalars())
    assert_only_hashes_at_rest(codes + normal, stored,
                               {second_factor._code_digest(client_user.id, code) for code in normal})
    assert len(set(normal)) == len(codes) == 10
    for code in normal:
        assert len(base64.b32decode(code.upper() + "=" * (-len(code) % 8))) >= 16


def test_sms_sign_in_code_is_stored_hashed(app, web, factories):
    """A six-digit code is brute-forced from a plain SHA-256 in a moment: only a keyed hash is kept."""
    factories.client_user(email="sms@example.com", phone="+447700900123", phone_verified_at=utcnow())
    web.login("sms@example.com", PASSWORD)
    web.post_form("/settings/security/sms/enable", {"current_password": PASSWORD}, page_url="/settings/security")
    browser = WebClient(app.test_client())
    assert browser.post_form("/login", {"login": "sms@example.com", "password": PASSWORD}
                             ).headers["Location"] == "/login/2fa"
    browser.post_form("/login/2fa/sms", {}, page_url="/login/2fa")
    code = code_in("+447700900123")
    stored = db.session.execute(select(SignInCode.code_hash)).scalar_one()
    assert code not in stored and stored not in (digest(code), code)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)  # hex of a 256-bit keyed digest


def test_session_token_is_stored_hashed_and_random(app, client_user):
    browsers = [WebClient(app.test_client()) for _ in range(2)]
    for browser in browsers:
        browser.login("client@example.com", PASSWORD)
    first, second = (session_token(app, browser) for browser in browsers)
    stored = set(db.session.execute(select(UserSession.token_hash)).scalars())
    assert_only_hashes_at_rest([first, second], stored, {digest(first), digest(second)})
    assert_urlsafe_128_bits(first, second)


# --- 5. the session id rotates at login ---------------------------------------------------------

def test_signing_in_again_in_the_same_browser_retires_the_old_session(app, web, client_user):
    web.login("client@example.com", PASSWORD)
    old_cookie = web.get_cookie("portal_session").value
    [old_row] = session_rows()
    response = web.post_form("/login", {"login": "client@example.com", "password": PASSWORD}, page_url="/home")
    assert response.status_code == 302
    rows = session_rows()
    assert len(rows) == 2 and rows[1].token_hash == digest(session_token(app, web)) != old_row.token_hash
    assert web.get("/home").status_code == 200  # the browser goes on with its new session
    assert not signed_in_with(app, old_cookie)  # a copy of the old cookie is refused


def test_a_password_step_in_a_signed_in_browser_retires_its_session_before_the_code(app, web, factories):
    """Signed in as one account, the browser passes another's password step: the first session
    ends at once, not when (or if) the code is typed."""
    factories.client_user(email="other@example.com", password=PASSWORD)
    web.login("other@example.com", PASSWORD)
    enrol_totp(web, PASSWORD)
    web.post_form("/logout", {}, page_url="/home")
    factories.client_user(email="first@example.com", password=PASSWORD)
    web.login("first@example.com", PASSWORD)
    old_cookie = web.get_cookie("portal_session").value
    step = web.post_form("/login", {"login": "other@example.com", "password": PASSWORD}, page_url="/home")
    assert step.headers["Location"] == "/login/2fa"
    assert not signed_in_with(app, old_cookie)


def test_the_session_signed_in_after_the_code_step_is_not_the_one_before_it(app, client_web, client_user):
    secret, _codes = enrol_totp(client_web, PASSWORD)
    before = {row.id for row in session_rows()}
    browser = WebClient(app.test_client())
    step = browser.post_form("/login", {"login": "client@example.com", "password": PASSWORD})
    assert step.headers["Location"] == "/login/2fa"
    pending_cookie = browser.get_cookie("portal_session").value
    pending = app.session_interface.get_signing_serializer(app).loads(pending_cookie)
    assert "_user_id" not in pending and {row.id for row in session_rows()} == before  # nothing signed in yet
    done = browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)})
    assert done.headers["Location"] == "/home"
    new = [row for row in session_rows() if row.id not in before]
    assert len(new) == 1 and new[0].token_hash == digest(session_token(app, browser))
    assert browser.get_cookie("portal_session").value != pending_cookie
    assert browser.get("/home").status_code == 200
    assert not signed_in_with(app, pending_cookie)


# --- 6. a typed password never reaches a log ------------------------------------------------------

def test_typed_passwords_reach_neither_the_auth_and_audit_logs_nor_the_app_log(web, client_user, caplog):
    caplog.set_level(logging.DEBUG)
    wrong, unknown = "typed wrong Password 7", "typed unknown Password 8"
    current_wrong, new = "typed current Password 9", "typed new Password 10 xyz"
    web.post_form("/login", {"login": "client@example.com", "password": wrong})
    web.post_form("/login", {"login": "ghost@example.com", "password": unknown})
    web.login("client@example.com", PASSWORD)
    refused = web.post_form("/settings/general/password",
                            {"current_password": current_wrong, "password": new, "confirm": new},
                            page_url="/settings/general")
    assert "The current password is not correct." in refused.get_data(as_text=True)
    db.session.commit()
    logged = []
    with db.engine.connect() as conn:
        for table in (AuthEvent.__table__, AuditEvent.__table__):
            for row in conn.execute(table.select()):
                logged += [str(value).lower() for value in row if value is not None]
    events = db.session.execute(select(AuthEvent.event)).scalars().all()
    assert events.count("login_failed") == 2 and "login" in events and len(events) >= 4  # the log was written
    app_log = caplog.text.lower()
    for typed in (wrong, unknown, PASSWORD, current_wrong, new):
        assert not [value for value in logged if typed.lower() in value], typed
        assert typed.lower() not in app_log, typed


# --- 7. staff sessions end sooner --------------------------------------------------------------

def test_staff_absolute_timeout_is_shorter_than_the_clients(app, client_user, staff_user):
    staff_hours, client_hours = app.config["STAFF_SESSION_MAX_HOURS"], app.config["SESSION_MAX_HOURS"]
    assert staff_hours < client_hours
    staff, client = WebClient(app.test_client()), WebClient(app.test_client())
    staff.login("boss", "staff password 1")
    client.login("client@example.com", PASSWORD)

    def age_sessions(age: timedelta) -> None:
        for row in session_rows():
            row.created_at = utcnow() - age
        db.session.commit()

    age_sessions(timedelta(hours=staff_hours) - timedelta(minutes=2))
    assert staff.get("/admin/").status_code == 200
    age_sessions(timedelta(hours=staff_hours, minutes=1))  # past the staff limit, inside the client's
    assert client.get("/home").status_code == 200
    refused = staff.get("/admin/")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]


def test_a_refused_temporary_key_reaches_no_log(app, client_user):
    spent = last_segment(temp_keys.issue_key("client@example.com", 15)[1])
    web = WebClient(app.test_client())
    for key in (spent, spent, "unknown-" + spent[::-1]):  # used once, then spent, then never issued
        assert web.get(f"/login/key/{key}").status_code == 302
        web.post_form("/login/key", {})
        web = WebClient(app.test_client())
    events = db.session.execute(select(AuthEvent.event)).scalars().all()
    assert events.count("temp_key_refused") == 2  # the log was written
    for secret in (spent, spent[::-1]):
        assert not [value for value in database_values() if secret.lower() in value], secret
