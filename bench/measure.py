"""The measurements: throughput against the bare app, login against one hash verify, list latency."""

import re
import statistics
import time
from dataclasses import dataclass, field

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import func, select

from bench.load import hammer, latencies, percentile, server_cpu
from bench.report import Row
from portal.extensions import db
from portal.models import AuthEvent, Client, User
from portal.services import gdpr, retention
from tests.live import LiveBrowser


@dataclass
class Target:
    """A URL to load, with what a signed-in browser sends, and the fraction of bare to reach."""

    name: str
    path: str
    minimum: float
    headers: dict = field(default_factory=dict)
    bodies: list | None = None  # form POSTs taken in turn (the htmx toggle)
    rates: list = field(default_factory=list)
    cpu: list = field(default_factory=list)
    bad: int = 0


SIGN_IN_LOGGED = re.compile(r'"POST /login" 302 \S+ ([0-9.]+)s')  # gunicorn.conf.py's access_log_format


def signed_in(url: str, login: str, password: str) -> LiveBrowser:
    browser = LiveBrowser(url)
    response = browser.login(login, password)
    if response.status_code != 302:
        raise RuntimeError(f"bench login of {login} failed: {response.status_code} {response.text[:500]}")
    browser.get(response.headers["Location"])  # the first page adds the CSRF secret to the cookie
    return browser


def signed_in_staff(url: str, login: str, password: str) -> LiveBrowser:
    """A staff member signed in with a second factor, as the portal requires by default: the
    first sign-in enrols an authenticator app (pyotp plays the phone) on the security page."""
    browser = signed_in(url, login, password)
    browser.post_form("/settings/security/totp/begin", {}, page="/settings/security")
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', browser.get("/settings/security").text)
    if secret is not None:
        browser.post_form("/settings/security/totp/confirm", {
            "current_password": password, "code": pyotp.TOTP(secret.group(1)).now()},
            page="/settings/security")
    if browser.get("/admin/administrators").status_code != 200:
        raise RuntimeError(f"bench staff {login} could not reach the admin area")
    return browser


def cookie_header(browser: LiveBrowser) -> dict:
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in browser.http.cookies)}


def htmx_headers(browser: LiveBrowser, page: str) -> dict:
    """What htmx sends from `page`: the cookie, HX-Request and the CSRF token of the page."""
    return {**cookie_header(browser), "HX-Request": "true", "X-CSRFToken": browser.csrf_token(page)}


def _loaded(server, path: str, seconds, connections, headers=None, bodies=None):
    """Load one URL; its throughput and the workers' CPU milliseconds per request."""
    before = server_cpu(server.process.pid)
    result = hammer(server.url + path, seconds, connections, headers, bodies)
    cpu_ms = (server_cpu(server.process.pid) - before) * 1000 / max(result.requests, 1)
    return result, cpu_ms


def throughput(portal, bare, targets: list[Target], rounds: int, seconds: float,
               connections: int, log=print) -> tuple[list[Row], str]:
    """Alternate bare and portal rounds (so a busy moment hits both); medians and their ratios.
    Each target also gets the workers' CPU time per request, which other load on the machine
    barely moves: the ratio of those is what the throughput ratio tends to on an idle machine."""
    bare_rates, bare_cpu, tool = [], [], ""
    for round_ in range(1, rounds + 1):
        result, cpu_ms = _loaded(bare, "/", seconds, connections)
        bare_rates.append(result.requests_per_second)
        bare_cpu.append(cpu_ms)
        tool = result.tool
        log(f"  round {round_}: bare {result.requests_per_second:.0f} req/s, {cpu_ms:.2f} ms CPU")
        for target in targets:
            result, cpu_ms = _loaded(portal, target.path, seconds, connections, target.headers,
                                     target.bodies)
            target.rates.append(result.requests_per_second)
            target.cpu.append(cpu_ms)
            target.bad += result.bad
            log(f"  round {round_}: {target.name} {result.requests_per_second:.0f} req/s, "
                f"{cpu_ms:.2f} ms CPU{f' ({result.bad} bad answers)' if result.bad else ''}")
    bare_rate, bare_ms = statistics.median(bare_rates), statistics.median(bare_cpu)
    rows = []
    for target in targets:
        rate, cpu_ms = statistics.median(target.rates), statistics.median(target.cpu)
        ratio = rate / bare_rate
        rows.append(Row(target.name, f"{rate:.0f} req/s", f"{bare_rate:.0f} req/s", f"{ratio:.2f}",
                        f"≥ {target.minimum:.2f}", ratio >= target.minimum and target.bad == 0))
        rows.append(Row("  the same, worker CPU per request", f"{cpu_ms:.2f} ms", f"{bare_ms:.2f} ms",
                        f"{bare_ms / cpu_ms:.2f}", "(informative)", None))
    return rows, tool


def login_against_verify(server, logins: list[str], password: str, password_hash: str,
                         config) -> list[Row]:
    """Password sign-ins over HTTP against one argon2 verify with the same parameters, taken in
    turns (so a busy moment slows both), compared by their medians. The target is on the server's
    time (gunicorn's request time in the access log); the client's round trip is shown beside it."""
    hasher = PasswordHasher(time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_COST"],
                            parallelism=config["ARGON2_PARALLELISM"])
    time.sleep(2)  # let the workers finish what the last load round left queued
    logged = len(server.access_log.read_text())  # the sign-ins' lines come after this
    verifies, round_trips = [], []
    for login in logins:
        verifies += latencies(lambda i: hasher.verify(password_hash, password), 1)
        browser = LiveBrowser(server.url)
        token = browser.csrf_token("/login")
        started = time.perf_counter()
        response = browser.http.post(server.url + "/login", data={"csrf_token": token, "login": login,
                                                                  "password": password}, allow_redirects=False)
        round_trips.append((time.perf_counter() - started) * 1000)
        if response.status_code != 302:
            raise RuntimeError(f"bench login of {login} failed: {response.status_code}")
    deadline = time.monotonic() + 10
    while True:  # a worker writes the access line just after the response is sent
        server_ms = [float(seconds) * 1000
                     for seconds in SIGN_IN_LOGGED.findall(server.access_log.read_text()[logged:])]
        if len(server_ms) >= len(logins) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(server_ms) != len(logins):
        raise RuntimeError(f"{len(server_ms)} sign-ins in the access log, {len(logins)} made")
    verify, login_ms, round_trip = (statistics.median(verifies), statistics.median(server_ms),
                                    statistics.median(round_trips))
    ratio = login_ms / verify
    return [Row("login / one argon2 verify", f"{login_ms:.1f} ms", f"{verify:.1f} ms (verify)",
                f"{ratio:.2f}", "≤ 1.10", ratio <= 1.10),
            Row("  the same, client round trip", f"{round_trip:.1f} ms", f"{verify:.1f} ms (verify)",
                f"{round_trip / verify:.2f}", "(informative)", None)]


def list_latency(browser: LiveBrowser, name: str, path: str, queries: list[str],
                 limit_ms: float = 50) -> Row:
    """p50 / p95 of sequential requests of a searchable list: first page, searches, filters and
    later pages (`queries` are query strings, taken in turn)."""
    def fetch(i):
        url = f"{path}?{queries[i % len(queries)]}"
        response = browser.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")

    fetch(0)  # warm up
    times = latencies(fetch, 20 * len(queries))
    p50, p95 = percentile(times, 0.50), percentile(times, 0.95)
    return Row(f"{name}: p50 / p95", f"{p50:.1f} / {p95:.1f} ms", "", "", f"p95 ≤ {limit_ms:.0f} ms",
               p95 <= limit_ms)


def clear_data(app, client_id: int, staff_login: str, password: str) -> Row:
    """GDPR Clear data of one client, from the confirmed start to the receipt, in-process (the
    page runs the same batches a second at a time while it shows progress)."""
    with app.app_context():
        client = db.session.get(Client, client_id)
        staff = db.session.execute(select(User).where(User.login == staff_login)).scalar_one()
        users = select(User.id).where(User.client_id == client_id)
        counted = (db.session.execute(select(func.count()).select_from(users.subquery())).scalar(),
                   db.session.execute(select(func.count()).select_from(AuthEvent)
                                      .where(AuthEvent.user_id.in_(users))).scalar())
        started = time.perf_counter()
        job = gdpr.start(client, staff, password, client.name)
        while job.finished_at is None:
            gdpr.step(job, seconds=5)
        seconds = time.perf_counter() - started
        db.engine.dispose()
    return Row(f"clear data ({counted[0]:,} users, {counted[1]:,} log rows)", f"{seconds:.2f} s", "", "",
               "≤ 2 s", seconds <= 2)


def purge(app) -> Row:
    """The retention purge (`flask purge-auth-log`) with a one-day period: every generated row goes."""
    with app.app_context():
        retention.set_period(1)
        db.session.commit()
        result = retention.purge_auth_log()
        db.engine.dispose()
    return Row(f"auth-log purge ({result.rows:,} rows)", f"{result.seconds:.2f} s", "", "", "≤ 10 s",
               result.seconds <= 10)
