"""Single-use secrets used by two requests at the same moment work once (PostgreSQL, two gunicorn workers)."""

import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import PendingRegistration, User
from portal.models.base import utcnow
from portal.services import passwords
from portal.services.tokens import digest, new_token
from tests.live import LiveBrowser

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


def post_prepared(browser: LiveBrowser, path: str):
    """Fetch the page (cookie and CSRF token) now; return the POST to fire later."""
    token = browser.csrf_token(path)
    return lambda: browser.http.post(browser.base_url + path, data={"csrf_token": token},
                                     allow_redirects=False, timeout=30)


def test_registration_link_used_twice_at_once_works_once(app, gunicorn):
    server = gunicorn()
    for round_ in range(ROUNDS):
        path = f"/register/confirm/{pending_registration(f'racer{round_}@example.com')}"
        first, second = race(post_prepared(LiveBrowser(server.url), path),
                             post_prepared(LiveBrowser(server.url), path))
        outcomes = sorted(response.headers.get("Location") for response in (first, second))
        assert [first.status_code, second.status_code] == [302, 302], server.output()[-3000:]
        assert outcomes == ["/home", "/register"]
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == ROUNDS
    assert db.session.execute(select(PendingRegistration)).first() is None
