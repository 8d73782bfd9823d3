"""A bounded load test on loopback: gunicorn with 2 workers, 32 connections for 60 s; no 5xx, no lost write.

Clients sign in, read pages, order, end their other sessions by htmx and register newcomers;
administrators flip Deny access on their own targets. Every write that got its 2xx is then
looked for in the database. PORTAL_LOAD_SECONDS changes the length (default 60);
`-m "not load"` leaves the test out.
"""

import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AuthEvent,
    Order,
    PendingRegistration,
    ProductType,
    Tariff,
    User,
    UserSession,
)
from tests.live import LiveBrowser
from tests.web import csrf_token_in

pytestmark = pytest.mark.load

CONNECTIONS = 32
ADMINS = 2  # of the connections; each flips Deny access on TARGETS administrators of its own
TARGETS = 3
SECONDS = float(os.environ.get("PORTAL_LOAD_SECONDS", "60"))
PASSWORD = "load password 1"
NEWCOMER_PASSWORD = "violet kettle under moonlight"  # passes the password policy at registration
NO_LIMITS = {"RATELIMIT_LOGIN_PER_IP": "1000000 per minute",
             "RATELIMIT_LOGIN_PER_ACCOUNT": "1000000 per minute",
             "RATELIMIT_REGISTER_PER_IP": "1000000 per hour",
             "RATELIMIT_CAPTCHA_PER_IP": "1000000 per minute"}  # every visitor comes from 127.0.0.1
MESSAGE = re.compile(r'class="(?:error|flash[^"]*)"[^>]*>([^<]+)')  # what a refused form says
END_LINK = re.compile(r'hx-post="/settings/security/sessions/(\d+)/end"')


@dataclass
class Tally:
    """What one connection did and what the server said."""

    statuses: Counter = field(default_factory=Counter)
    unexpected: list = field(default_factory=list)
    logins: int = 0
    orders: int = 0
    ended_sessions: list = field(default_factory=list)
    registered: list = field(default_factory=list)
    toggles: Counter = field(default_factory=Counter)  # target id -> acknowledged flips
    denied: dict = field(default_factory=dict)  # target id -> last acknowledged state

    def check(self, what: str, response, expected: int, text: str = "") -> bool:
        self.statuses[response.status_code] += 1
        ok = response.status_code == expected and text in response.text
        if not ok:
            self.unexpected.append((what, response.status_code, MESSAGE.findall(response.text) or response.text[:300]))
        return ok


def client_visitor(url: str, number: int, tariff_id: int, deadline: float, tally: Tally) -> None:
    """Pages; now and then a second sign-in ended by htmx, an order, a newcomer's registration."""
    login = f"load{number}@example.com"
    main = LiveBrowser(url)
    if tally.check("login", main.login(login, PASSWORD), 302):
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
                other = END_LINK.findall(page.text)[0]
                response = main.htmx(f"/settings/security/sessions/{other}/end", page="/settings/security",
                                     token=csrf_token_in(page.text, "/settings/security"))
                if tally.check("end session", response, 200):
                    tally.ended_sessions.append(int(other))
        if step % 4 == 0 and tally.check("order", main.post_form(f"/order/{tariff_id}", {}), 302):
            tally.orders += 1
        if step % 10 == 0:
            email = f"new{number}x{step}@example.com"
            response = LiveBrowser(url).post_form("/register", {
                "email": email, "name": "Newcomer", "password": NEWCOMER_PASSWORD,
                "confirm": NEWCOMER_PASSWORD})
            if tally.check("register", response, 200, "Check your email"):
                tally.registered.append(email)


def admin_visitor(url: str, number: int, targets: list[int], deadline: float, tally: Tally) -> None:
    """The Administrators list, and the Deny access checkbox of each target flipped in turn."""
    admin = LiveBrowser(url)
    tally.check("admin login", admin.login(f"loadadmin{number}", PASSWORD), 302)
    step = 0
    while time.monotonic() < deadline:
        page = admin.get("/admin/administrators")
        if not tally.check("administrators", page, 200):
            continue
        target = targets[step % len(targets)]
        deny = not tally.denied.get(target, False)
        response = admin.htmx(f"/admin/administrators/{target}/deny-access", page="",
                              data={"denied": "y"} if deny else {},
                              token=csrf_token_in(page.text, "/admin/administrators"))
        if tally.check("deny access", response, 200):
            tally.denied[target] = deny
            tally.toggles[target] += 1
        step += 1


def run_visitors(url: str, tariff_id: int, targets: dict[int, list[int]]) -> list[Tally]:
    deadline = time.monotonic() + SECONDS
    tallies = [Tally() for _ in range(CONNECTIONS)]
    errors = []

    def guarded(number):
        try:
            if number < ADMINS:
                admin_visitor(url, number, targets[number], deadline, tallies[number])
            else:
                client_visitor(url, number, tariff_id, deadline, tallies[number])
        except Exception as error:  # a refused or dropped connection is a failure too
            errors.append(repr(error))

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SECONDS + 60)
    assert not errors, errors[:5]
    return tallies


def count_by(column, *where) -> dict:
    return dict(db.session.execute(select(column, func.count()).where(*where).group_by(column)).all())


def test_sustained_load_without_errors_or_lost_writes(gunicorn, factories):
    clients = {factories.client_user(email=f"load{n}@example.com", password=PASSWORD).id: n
               for n in range(ADMINS, CONNECTIONS)}
    targets = {}
    for n in range(ADMINS):
        factories.staff(login=f"loadadmin{n}", password=PASSWORD, full_access=True)
        targets[n] = [factories.staff(login=f"loadtarget{n}x{k}").id for k in range(TARGETS)]
    product = ProductType(name="Load hosting")
    tariff = Tariff(product_type=product, name="Load plan", price=Decimal("5.00"))
    db.session.add_all([product, tariff])
    db.session.commit()
    server = gunicorn(workers=2, **NO_LIMITS)
    tallies = run_visitors(server.url, tariff.id, targets)
    db.session.expire_all()

    statuses = sum((t.statuses for t in tallies), Counter())
    unexpected = [item for t in tallies for item in t.unexpected]
    assert not [s for s in statuses if s >= 500], statuses
    assert not unexpected, unexpected[:5]
    assert all(t.statuses[200] > 0 for t in tallies), statuses  # every connection was answered (how often is the bench's business)

    logins = count_by(AuthEvent.user_id, AuthEvent.event == "login")
    sessions = count_by(UserSession.user_id)
    orders = count_by(Order.user_id)
    for user_id, number in clients.items():
        assert logins.get(user_id) == sessions.get(user_id) == tallies[number].logins
        assert orders.get(user_id, 0) == tallies[number].orders
    assert sum(orders.values()) > 0
    ended = [session_id for t in tallies for session_id in t.ended_sessions]
    assert ended and db.session.execute(
        select(func.count()).select_from(UserSession)
        .where(UserSession.id.in_(ended), UserSession.revoked_at.is_not(None))).scalar() == len(ended)
    registered = [email for t in tallies for email in t.registered]
    assert registered and db.session.execute(
        select(func.count()).select_from(PendingRegistration)
        .where(PendingRegistration.email.in_(registered))).scalar() == len(registered)

    flips = count_by(AuditEvent.target_id, AuditEvent.action.in_(["access_denied", "access_restored"]))
    for number in range(ADMINS):
        assert sum(tallies[number].toggles.values()) > 0
        for target in targets[number]:
            assert flips.get(target, 0) == tallies[number].toggles[target]
            assert db.session.get(User, target).access_denied == tallies[number].denied.get(target, False)
