"""A bounded load test on loopback: gunicorn with 2 workers, 32 connections for 60 s; no 5xx, no lost write.

PORTAL_LOAD_SECONDS shortens or lengthens the run (default 60); `-m "not load"` leaves it out.
"""

import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuthEvent, PendingRegistration, User, UserSession
from tests.live import LiveBrowser
from tests.web import csrf_token_in

pytestmark = pytest.mark.load

CONNECTIONS = 32
SECONDS = float(os.environ.get("PORTAL_LOAD_SECONDS", "60"))
PASSWORD = "load password 1"
NO_LIMITS = {"RATELIMIT_LOGIN_PER_IP": "1000000 per minute",
             "RATELIMIT_LOGIN_PER_ACCOUNT": "1000000 per minute",
             "RATELIMIT_REGISTER_PER_IP": "1000000 per hour"}
END_LINK = re.compile(r'hx-post="/settings/security/sessions/(\d+)/end"')


@dataclass
class Tally:
    """What one connection did and what the server said."""

    statuses: Counter = field(default_factory=Counter)
    unexpected: list = field(default_factory=list)
    logins: int = 0
    ended_sessions: list = field(default_factory=list)
    registered: list = field(default_factory=list)

    def check(self, what: str, response, expected: int) -> bool:
        self.statuses[response.status_code] += 1
        if response.status_code != expected:
            self.unexpected.append((what, response.status_code, response.text[:300]))
        return response.status_code == expected


def visitor(url: str, number: int, deadline: float, tally: Tally) -> None:
    """One person: pages, a second sign-in now and then, ended from the first browser by htmx."""
    login = f"load{number}@example.com"
    main = LiveBrowser(url)
    tally.check("login", main.login(login, PASSWORD), 302)
    tally.logins += 1
    step = 0
    while time.monotonic() < deadline:
        step += 1
        tally.check("general", main.get("/settings/general"), 200)
        tally.check("home", main.get("/home"), 200)
        if step % 3 == 0:
            if tally.check("login", LiveBrowser(url).login(login, PASSWORD), 302):
                tally.logins += 1
            page = main.get("/settings/security")
            if tally.check("security", page, 200):
                others = END_LINK.findall(page.text)
                response = main.htmx(f"/settings/security/sessions/{others[0]}/end",
                                     page="/settings/security",
                                     token=csrf_token_in(page.text, "/settings/security"))
                if tally.check("end session", response, 200):
                    tally.ended_sessions.append(int(others[0]))
        if step % 10 == 0:
            email = f"new{number}x{step}@example.com"
            response = LiveBrowser(url).post_form("/register", {
                "email": email, "name": "Load Newcomer", "password": PASSWORD, "confirm": PASSWORD})
            if tally.check("register", response, 200):
                tally.registered.append(email)


def run_visitors(url: str) -> list[Tally]:
    deadline = time.monotonic() + SECONDS
    tallies = [Tally() for _ in range(CONNECTIONS)]
    errors = []

    def guarded(number):
        try:
            visitor(url, number, deadline, tallies[number])
        except Exception as error:  # a refused or dropped connection is a failure too
            errors.append(repr(error))

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SECONDS + 60)
    assert not errors, errors[:5]
    return tallies


def test_sustained_load_without_errors_or_lost_writes(gunicorn, factories):
    users = {factories.client_user(email=f"load{n}@example.com", password=PASSWORD).id: n
             for n in range(CONNECTIONS)}
    server = gunicorn(workers=2, **NO_LIMITS)
    tallies = run_visitors(server.url)

    statuses = sum((t.statuses for t in tallies), Counter())
    unexpected = [item for t in tallies for item in t.unexpected]
    assert not [s for s in statuses if s >= 500], statuses
    assert not unexpected, unexpected[:5]
    assert min(sum(t.statuses.values()) for t in tallies) >= 20, statuses  # every connection worked

    logins = dict(db.session.execute(
        select(AuthEvent.user_id, func.count()).where(AuthEvent.event == "login")
        .group_by(AuthEvent.user_id)).all())
    sessions = dict(db.session.execute(
        select(UserSession.user_id, func.count()).group_by(UserSession.user_id)).all())
    for user_id, number in users.items():
        assert logins.get(user_id) == tallies[number].logins
        assert sessions.get(user_id) == tallies[number].logins
    ended = [session_id for t in tallies for session_id in t.ended_sessions]
    assert ended and db.session.execute(
        select(func.count()).select_from(UserSession)
        .where(UserSession.id.in_(ended), UserSession.revoked_at.is_not(None))).scalar() == len(ended)
    registered = [email for t in tallies for email in t.registered]
    assert registered and db.session.execute(
        select(func.count()).select_from(PendingRegistration)
        .where(PendingRegistration.email.in_(registered))).scalar() == len(registered)
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == CONNECTIONS
