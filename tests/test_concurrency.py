"""Single-use secrets used by two requests at the same moment work once (PostgreSQL, two gunicorn workers):
the registration link, the temporary key, the SMS recovery code, the reset link, the new-email link and
the second-factor codes (authenticator, recovery, SMS); and a Clear data job run by two at once."""

import math
import os
import re
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AuthEvent,
    PendingEmailChange,
    PendingRegistration,
    RecoveryLink,
    User,
    UserSession,
)
from portal.models.base import utcnow
from portal.models.compliance import ErasureJob
from portal.services import gdpr, passwords, personal_data, second_factor, temp_keys
from portal.services.recovery import send_password_link
from portal.services.tokens import digest, new_token
from tests.fraud_support import protect
from tests.live import LiveBrowser
from tests.machine import needs
from tests.methods_helpers import next_totp
from tests.outbox import link_in, messages

pytestmark = pytest.mark.skipif(
    not os.environ.get("PORTAL_TEST_DATABASE_URL"),
    reason="row locking is tested on PostgreSQL (set PORTAL_TEST_DATABASE_URL)",
)

ROUNDS = 8


def race(*sends):
    """Run each `send()` in its own thread, released together; their responses in order."""
    barrier = threading.Barrier(len(sends))
    results = [None] * len(sends)

    def run(index, send):
        barrier.wait()
        results[index] = send()

    threads = [threading.Thread(target=run, args=(i, send)) for i, send in enumerate(sends)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def pending_registration(email: str) -> str:
    token = new_token()
    db.session.add(PendingRegistration(
        token_hash=digest(token), email=email, name="Racer",
        password_hash=passwords.hash_password("racer password 1"),
        expires_at=utcnow() + timedelta(hours=1)))
    db.session.commit()
    return token


def post_prepared(browser: LiveBrowser, path: str, data: dict | None = None, page: str | None = None):
    """Fetch the page (`path`, or the `page` the form is on) for its cookie and CSRF token now;
    return the POST to fire later."""
    token = browser.csrf_token(page or path)
    return lambda: browser.http.post(browser.base_url + path, data={"csrf_token": token, **(data or {})},
                                     allow_redirects=False, timeout=30)


def test_registration_link_used_twice_at_once_works_once(app, gunicorn):
    server = gunicorn()
    for round_ in range(ROUNDS):
        path = f"/register/confirm/{pending_registration(f'racer{round_}@example.com')}"
        typed = {"password": "racer password 1"}  # chosen at sign-up, asked in another browser
        first, second = race(post_prepared(LiveBrowser(server.url), path, typed),
                             post_prepared(LiveBrowser(server.url), path, typed))
        assert [first.status_code, second.status_code] == [302, 302], server.output()[-3000:]
        assert sorted(response.headers["Location"] for response in (first, second)) == ["/home", "/register"]
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == ROUNDS
    assert db.session.execute(select(PendingRegistration)).first() is None


def test_temporary_key_used_twice_at_once_signs_in_once(app, gunicorn, factories):
    server = gunicorn()
    for round_ in range(ROUNDS // 2):
        factories.client_user(email=f"key{round_}@example.com")
        path = urlsplit(temp_keys.issue_key(f"key{round_}@example.com", 15)[1]).path
        browsers = [LiveBrowser(server.url) for _ in range(2)]
        for browser in browsers:
            assert browser.get(path).headers["Location"] == "/login/key"  # the key is in the cookie
        answers = race(*(post_prepared(browser, "/login/key") for browser in browsers))
        assert sorted(a.status_code for a in answers) == [200, 302], server.output()[-3000:]
        assert [a.headers["Location"] for a in answers if a.status_code == 302] == ["/home"]
    assert db.session.execute(select(func.count()).select_from(UserSession)).scalar() == ROUNDS // 2


def test_recovery_code_used_twice_at_once_gives_one_reset_link(app, gunicorn, factories, vonage):
    server = gunicorn(**vonage.app_config())
    for round_ in range(ROUNDS // 2):
        phone = f"+4477009004{round_:02d}"
        factories.client_user(email=f"code{round_}@example.com", phone=phone, phone_verified_at=utcnow())
        first, second = LiveBrowser(server.url), LiveBrowser(server.url)
        asked = first.post_form("/recover", {"login": f"code{round_}@example.com", "channel": "sms"})
        assert asked.headers["Location"] == "/recover/code"
        second.http.cookies.update(first.http.cookies)  # the same ticket in two tabs
        code = re.search(r"\b(\d{6})\b", vonage.wait_for_message_to(phone)["text"]).group(1)
        answers = race(*(post_prepared(browser, "/recover/code", {"code": code}) for browser in (first, second)))
        assert sorted(a.status_code for a in answers) == [200, 302], server.output()[-3000:]
        resets = [a for a in answers if a.headers.get("Location", "").startswith("/recover/reset/")]
        assert len(resets) == 1
        assert "This code is no longer valid." in next(a.text for a in answers if a.status_code == 200)
    assert db.session.execute(select(func.count()).select_from(RecoveryLink)).scalar() == ROUNDS // 2


def enrolled(factories, email: str) -> tuple[User, str, list[str]]:
    """A client with an authenticator app: (user, TOTP secret, recovery codes)."""
    user = factories.client_user(email=email, password="client password 1")
    secret = second_factor.totp_secret(second_factor.begin_totp(user))
    codes = second_factor.confirm_totp(user, "client password 1", pyotp.TOTP(secret).now())
    db.session.commit()
    return user, secret, codes


def second_step_raced(server, email: str, code: str) -> list:
    """Two browsers pass the password step, then send the same second-factor code at once."""
    browsers = [LiveBrowser(server.url) for _ in range(2)]
    for browser in browsers:
        assert browser.login(email, "client password 1").headers["Location"] == "/login/2fa"
    return race(*(post_prepared(browser, "/login/2fa", {"code": code}) for browser in browsers))


@pytest.mark.parametrize("kind", ["authenticator code", "recovery code"])
def test_a_second_factor_code_sent_twice_at_once_signs_in_once(app, gunicorn, factories, kind):
    """A code read over someone's shoulder and raced against its owner opens one session."""
    server = gunicorn()
    for round_ in range(ROUNDS // 2):
        user, secret, recovery_codes = enrolled(factories, f"factor{round_}@example.com")
        code = next_totp(secret, user.id) if kind == "authenticator code" else recovery_codes[0]
        answers = second_step_raced(server, user.email, code)
        assert sorted(a.status_code for a in answers) == [200, 302], server.output()[-3000:]
        assert [a.headers["Location"] for a in answers if a.status_code == 302] == ["/home"]
        assert db.session.execute(select(func.count()).select_from(UserSession).where(
            UserSession.user_id == user.id)).scalar() == 1


def test_an_sms_sign_in_code_sent_twice_at_once_signs_in_once(app, gunicorn, factories, vonage):
    server = gunicorn(**vonage.app_config())
    for round_ in range(ROUNDS // 2):
        phone = f"+4477009005{round_:02d}"
        user = factories.client_user(email=f"sms{round_}@example.com", password="client password 1",
                                     phone=phone, phone_verified_at=utcnow())
        second_factor.enable_sms(user, "client password 1")
        db.session.commit()
        browsers = [LiveBrowser(server.url) for _ in range(2)]
        for browser in browsers:
            assert browser.login(user.email, "client password 1").headers["Location"] == "/login/2fa"
        browsers[0].post_form("/login/2fa/sms", {}, page="/login/2fa")
        code = re.search(r"\b(\d{6})\b", vonage.messages_to(phone.removeprefix("+"))[-1]["text"]).group(1)
        answers = race(*(post_prepared(browser, "/login/2fa", {"code": code}) for browser in browsers))
        assert sorted(a.status_code for a in answers) == [200, 302], server.output()[-3000:]
        assert db.session.execute(select(func.count()).select_from(UserSession).where(
            UserSession.user_id == user.id)).scalar() == 1


def test_the_last_text_a_budget_allows_is_sent_once_when_two_ask_at_once(app, gunicorn, factories):
    """Two accounts ask for a code to the same number at the same moment, with one text left in the
    number's budget: one text leaves, as the workers take budgets atomically in the shared store."""
    needs(bool(os.environ.get("PORTAL_TEST_REDIS_URL")), "Redis (PORTAL_TEST_REDIS_URL), the workers' shared budgets")
    protect()
    server = gunicorn(FRAUD_SMS_PER_NUMBER="1 per hour", FRAUD_SMS_PER_IP="100 per hour")
    for round_ in range(ROUNDS // 2):
        number = f"+4474001235{round_:02d}"
        browsers = [LiveBrowser(server.url) for _ in range(2)]
        for index, browser in enumerate(browsers):
            user = factories.client_user(email=f"budget{round_}-{index}@example.com")
            assert browser.login(user.email, "client password 1").headers["Location"] == "/home"
        answers = race(*(post_prepared(browser, "/verify-phone/send", {"phone": number}, page="/verify-phone")
                         for browser in browsers))
        assert sorted(a.status_code for a in answers) == [200, 302], server.output()[-3000:]
        assert "Too many codes were requested" in next(a.text for a in answers if a.status_code == 200)
        assert len(messages(to=number)) == 1


def test_reset_link_used_twice_at_once_sets_one_password(app, gunicorn, factories):
    server = gunicorn()
    for round_ in range(ROUNDS // 2):
        user = factories.client_user(email=f"reset{round_}@example.com")
        send_password_link(user)
        path = link_in(user.email)
        answers = race(*(post_prepared(LiveBrowser(server.url), path,
                                       {"password": f"violet kettle {n} moonlight",
                                        "confirm": f"violet kettle {n} moonlight"}) for n in range(2)))
        assert sorted(a.headers.get("Location") for a in answers) == ["/login", "/recover"], \
            [a.status_code for a in answers]
        assert len(db.session.execute(select(AuthEvent).where(
            AuthEvent.event == "password_reset", AuthEvent.user_id == user.id)).all()) == 1


def test_new_email_link_used_twice_at_once_changes_the_address_once(app, gunicorn, factories):
    server = gunicorn()
    for round_ in range(ROUNDS // 2):
        user = factories.client_user(email=f"mover{round_}@example.com")
        token = new_token()
        db.session.add(PendingEmailChange(user_id=user.id, email=f"moved{round_}@example.com",
                                          token_hash=digest(token), expires_at=utcnow() + timedelta(hours=1)))
        db.session.commit()
        path = f"/settings/email/confirm/{token}"
        answers = race(*(post_prepared(LiveBrowser(server.url), path) for _ in range(2)))
        assert sorted(a.status_code for a in answers) == [302, 400], server.output()[-3000:]
        db.session.expire_all()
        assert db.session.get(User, user.id).email == f"moved{round_}@example.com"
    assert len(db.session.execute(select(AuditEvent).where(AuditEvent.action == "profile_changed")).all()) \
        == ROUNDS // 2


def test_a_double_submit_creating_one_unique_row_is_never_a_500(app, gunicorn, factories):
    """Two tabs (or a double click) create the same administrator at once: one is created, the
    other is refused (a form error, or "changed at the same moment" when both passed the check)."""
    server = gunicorn(RATELIMIT_REAUTH_PER_ACCOUNT="100 per hour",  # each try carries the password
                      RATELIMIT_REAUTH_PER_IP="100 per hour")
    factories.staff(login="boss", password="staff password 1", full_access=True)
    browsers = [LiveBrowser(server.url) for _ in range(2)]
    for browser in browsers:
        assert browser.login("boss", "staff password 1").status_code == 302
    for round_ in range(ROUNDS):
        form = {"login": f"twin{round_}", "email": f"twin{round_}@example.com", "name": "Twin",
                "current_password": "staff password 1"}
        answers = race(*(post_prepared(browser, "/admin/administrators/new", form) for browser in browsers))
        assert 302 in [a.status_code for a in answers], ([a.status_code for a in answers], server.output()[-3000:])
        assert all(a.status_code in (200, 302, 409) for a in answers), [a.status_code for a in answers]
        assert db.session.execute(select(func.count(User.id)).where(User.login == f"twin{round_}")).scalar() == 1


def test_a_clear_data_job_run_by_two_at_once_erases_each_batch_once(app, factories):
    """Its progress page and `finish-clear-data` on the same job take turns: the second runner's
    batch waits for the first one's commit and starts from the cursor it left."""
    staff = factories.staff(login="boss", password="staff password 1", full_access=True)
    owner = factories.client_user(email="twice@example.com", name="Twice Cleared")
    for n in range(2 * gdpr.BATCH_USERS):
        factories.client_user(email=f"t{n}@example.com", client=owner.client)
    job_id = gdpr.start(owner.client, staff, "staff password 1", "Twice Cleared").id
    batches, inside = [], threading.Event()

    def erase(user_ids):  # a registered table: records each batch; the first one takes a while
        batches.append(tuple(db.session.execute(user_ids).scalars()))
        if len(batches) == 1:
            inside.set()
            time.sleep(0.5)  # the other runner starts meanwhile
        return 0

    def run_the_job():
        with app.app_context():
            gdpr.step(db.session.get(ErasureJob, job_id), seconds=math.inf)

    personal_data.register(personal_data.PersonalData("zz_recorder", {}, erase,
                                                        personal_data.NotExported("a test table")))
    try:
        first = threading.Thread(target=run_the_job)
        first.start()
        assert inside.wait(30)
        run_the_job()
        first.join(60)
    finally:
        personal_data._REGISTRY.pop("zz_recorder")
    erased = [user_id for batch in batches for user_id in batch]
    assert len(erased) == len(set(erased)) == 2 * gdpr.BATCH_USERS + 1  # each user in one batch
    db.session.expire_all()
    assert db.session.get(ErasureJob, job_id).done_users == 2 * gdpr.BATCH_USERS + 1
    assert len(db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "client_data_cleared")).all()) == 1
