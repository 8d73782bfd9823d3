"""Retention: the period on Security settings, the batched purge (the auth log and the other rows
of personal data past the period), its summary."""

import re
import secrets
from datetime import timedelta

import pytest
from flask import render_template
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuthEvent,
    PendingEmailChange,
    PendingRegistration,
    PhoneVerification,
    UserSession,
)
from portal.models.base import utcnow
from portal.models.compliance import PendingConsent, PurgeRun
from portal.models.methods import ApiToken, SignInCode, TempKey
from portal.models.passwords import RecoveryLink, ResetCode
from portal.services import retention
from tests.api_helpers import bearer, make_token
from tests.gdpr_support import publish
from tests.statements import recorded
from tests.web import WebClient

DAY = timedelta(days=1)


def add_events(ages: list[timedelta]) -> None:
    now = utcnow()
    db.session.add_all(AuthEvent(event="login", created_at=now - age, ip="192.0.2.1") for age in ages)
    db.session.commit()


def ages_left() -> list[int]:
    now = utcnow()
    return sorted(round((now - at).total_seconds() / 3600) for at in
                  db.session.execute(select(AuthEvent.created_at)).scalars())


def set_days(days: int) -> None:
    retention.set_period(days)
    db.session.commit()


def test_staff_set_the_period(staff_web):
    page = staff_web.get("/admin/settings/security").get_data(as_text=True)
    assert "Auth log retention (days)" in page
    response = staff_web.htmx("POST", "/admin/settings/security/retention", page_url="/admin/settings/security",
                              data={"days": "90"})
    assert response.status_code == 200 and "Saved" in response.get_data(as_text=True)
    assert retention.period_days() == 90
    bad = staff_web.htmx("POST", "/admin/settings/security/retention", page_url="/admin/settings/security",
                         data={"days": "-3"})
    assert bad.status_code == 422 and 'value="-3"' in bad.get_data(as_text=True)
    assert retention.period_days() == 90


@pytest.mark.parametrize("with_htmx", [True, False])
def test_a_bad_period_is_shown_with_its_error_and_nothing_is_saved(staff_web, with_htmx):
    set_days(30)
    url, page = "/admin/settings/security/retention", "/admin/settings/security"
    response = (staff_web.htmx("POST", url, page_url=page, data={"days": "-5"}) if with_htmx
                else staff_web.post_form(url, {"days": "-5"}, page_url=page))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="auth-log-retention"' in body and 'value="-5"' in body
    assert re.search(r'<p class="error" id="days-error">Number must be between 0 and [0-9]+\.</p>', body)
    assert retention.period_days() == 30


def test_client_cannot_set_the_period(client_web):
    response = client_web.htmx("POST", "/admin/settings/security/retention", page_url="/home",
                               data={"days": "1"})
    assert response.status_code == 403


def test_purge_removes_exactly_the_rows_past_the_period(runner):
    day = timedelta(days=1)
    add_events([30 * day + timedelta(hours=1), 31 * day, 400 * day,  # past a 30-day period
                30 * day - timedelta(hours=1), day, timedelta(0)])
    set_days(30)
    dry = runner.invoke(args=["purge-auth-log", "--dry-run"])
    assert dry.exit_code == 0 and "would delete 3 rows" in dry.output
    assert len(ages_left()) == 6 and db.session.execute(select(PurgeRun)).first() is None
    real = runner.invoke(args=["purge-auth-log"])
    assert real.exit_code == 0 and "deleted 3 rows" in real.output
    assert ages_left() == [0, 24, 719]
    run = db.session.execute(select(PurgeRun)).scalar_one()
    assert run.rows_deleted == 3 and run.period_days == 30


def test_purge_works_in_batches(app):
    add_events([timedelta(days=10 + n) for n in range(7)] + [timedelta(days=1)])
    set_days(5)
    result = retention.purge_auth_log(batch_size=2)
    assert result.rows == 7
    assert db.session.execute(select(func.count(AuthEvent.id))).scalar_one() == 1


def test_no_period_deletes_nothing(runner):
    add_events([timedelta(days=5000)])
    result = runner.invoke(args=["purge-auth-log"])
    assert result.exit_code == 0 and "nothing deleted" in result.output
    assert len(ages_left()) == 1


def test_summary_partial_shows_period_oldest_row_and_last_run(app):
    add_events([timedelta(days=3), timedelta(days=40)])
    set_days(30)
    retention.purge_auth_log()
    oldest = (utcnow() - timedelta(days=3)).strftime("%Y-%m-%d")
    with app.test_request_context():
        html = render_template("gdpr/_auth_log_retention.html")
    assert "30 days" in html and f"oldest row kept: {oldest}" in html
    assert "(1 row: auth_event 1, user_session 0, " in html and "api_token 0)" in html


def test_a_run_recorded_without_its_tables_still_shows(staff_web):
    """Runs before the breakdown was kept have none: the total alone, on both pages."""
    set_days(30)
    finished = utcnow()
    db.session.add(PurgeRun(started_at=finished, finished_at=finished, cutoff=finished - 30 * DAY,
                            period_days=30, rows_deleted=5))
    db.session.commit()
    auth_log = staff_web.get("/admin/auth-log").get_data(as_text=True)
    assert f"last purge: {finished:%Y-%m-%d %H:%M} UTC (5 rows)" in auth_log
    compliance = staff_web.get("/admin/compliance")
    assert compliance.status_code == 200
    page = compliance.get_data(as_text=True)
    assert "(5 rows deleted)" in page and "Deleted per table" not in page


def test_auth_log_page_shows_the_retention(staff_web):
    add_events([timedelta(days=2)])
    set_days(30)
    page = staff_web.get("/admin/auth-log").get_data(as_text=True)
    assert "Retention: 30 days" in page and "last purge: never" in page


# --- The other rows of personal data: a 30-day period, rows that ended 31 days ago go ----------

def _token(prefix: str = "") -> str:
    return f"{prefix}{secrets.token_hex(16)}"


def _session(user, created: timedelta, last_seen: timedelta, revoked: timedelta | None = None,
             remember: bool = False, agent: str = "") -> None:
    now = utcnow()
    db.session.add(UserSession(token_hash=_token(), user_id=user.id, created_at=now - created,
                               last_seen_at=now - last_seen, remember=remember, ip="192.0.2.7",
                               revoked_at=None if revoked is None else now - revoked, user_agent=agent))


def _registration(email: str, expires_in: timedelta, version=None) -> None:
    row = PendingRegistration(token_hash=_token(), email=email, name="Someone",
                              password_hash="$argon2id$v=19$m=1024,t=1,p=1$x$y",
                              expires_at=utcnow() + expires_in)
    db.session.add(row)
    db.session.flush()
    if version is not None:
        db.session.add(PendingConsent(pending_registration_id=row.id, version_id=version.id,
                                      decision="accepted", ip="192.0.2.8"))


def _verification(user, status: str, number: str, finished: timedelta | None,
                  expires_in: timedelta = -40 * DAY) -> None:
    now = utcnow()
    db.session.add(PhoneVerification(user_id=user.id, number=number, country="GB", status=status,
                                     ip="192.0.2.9", expires_at=now + expires_in,
                                     finished_at=None if finished is None else now - finished))


def _api_token(user, name: str, expires_in: timedelta, revoked: timedelta | None = None) -> None:
    now = utcnow()
    db.session.add(ApiToken(user_id=user.id, name=name, token_hash=_token(), scopes=["self.account"],
                            created_at=now - 400 * DAY, expires_at=now + expires_in,
                            revoked_at=None if revoked is None else now - revoked))


def _single_use(user, other, expires_in: timedelta, tag: str) -> None:
    at = utcnow() + expires_in
    db.session.add_all([
        PendingEmailChange(user_id=user.id, email=f"new-{tag}@example.com", token_hash=_token(), expires_at=at),
        RecoveryLink(user_id=other.id, token_hash=_token(), purpose="reset", expires_at=at),
        ResetCode(ticket_hash=_token(), user_id=other.id, code_hash="$argon2id$code", expires_at=at),
        SignInCode(user_id=other.id, code_hash=_token(), expires_at=at),
        TempKey(user_id=other.id, key_hash=_token(), expires_at=at),
    ])


def personal_rows(factories) -> dict:
    """Rows past a 30-day period and rows within it (tagged by what tells them apart)."""
    owner = factories.client_user(email="owner@example.com")
    other = factories.client_user(email="other@example.com")
    young = factories.client_user(email="young@example.com")
    _document, version = publish("Privacy policy", True)
    add_events([31 * DAY, 29 * DAY])
    hour = timedelta(hours=1)
    _session(owner, 31 * DAY + hour, 31 * DAY, revoked=31 * DAY, agent="revoked long ago")  # goes
    _session(owner, 29 * DAY + hour, 29 * DAY, revoked=29 * DAY, agent="revoked lately")
    _session(owner, 32 * DAY, 31 * DAY, agent="abandoned long ago")  # idle since: goes
    _session(owner, 29 * DAY, 29 * DAY, agent="abandoned lately")
    _session(owner, 61 * DAY, 45 * DAY, remember=True, agent="remembered, over 31 days ago")  # goes
    _session(owner, 55 * DAY, 31 * DAY, remember=True, agent="remembered, over 25 days ago")
    _session(owner, 40 * DAY, 31 * DAY, revoked=31 * DAY, remember=True, agent="remembered, revoked long ago")  # goes
    _session(owner, timedelta(hours=1), timedelta(minutes=1), agent="live")
    _registration("old@example.com", -31 * DAY, version)  # goes, with its consent
    _registration("expired-lately@example.com", -2 * DAY, version)
    _registration("waiting@example.com", DAY, version)
    _verification(owner, "failed", "+447700900001", 31 * DAY)  # goes
    _verification(owner, "expired", "+447700900002", 45 * DAY)  # goes
    _verification(owner, "pending", "+447700900003", None)  # its code died 40 days ago: goes
    _verification(owner, "cancelled", "+447700900004", 10 * DAY)
    _verification(owner, "verified", "+447700900005", 400 * DAY)
    _verification(owner, "pending", "+447700900006", None, expires_in=timedelta(minutes=5))
    _single_use(owner, other, -31 * DAY, "old")  # each goes
    _single_use(young, young, -DAY, "young")
    _api_token(owner, "revoked long ago", 300 * DAY, revoked=31 * DAY)  # goes
    _api_token(owner, "expired long ago", -31 * DAY)  # goes
    _api_token(owner, "expired long ago, revoked lately", -31 * DAY, revoked=DAY)  # goes
    _api_token(owner, "revoked lately", 300 * DAY, revoked=29 * DAY)
    _api_token(owner, "expired lately", -29 * DAY)
    _api_token(owner, "live", 5 * DAY)
    db.session.commit()
    return {"auth_event": 1, "user_session": 4, "pending_registration": 1, "pending_consent": 1,
            "phone_verification": 3, "pending_email_change": 1, "recovery_link": 1, "reset_code": 1,
            "sign_in_code": 1, "temp_key": 1, "api_token": 3}


def counts() -> dict:
    return {model.__tablename__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (AuthEvent, UserSession, PendingRegistration, PendingConsent, PhoneVerification,
                          PendingEmailChange, RecoveryLink, ResetCode, SignInCode, TempKey, ApiToken)}


def test_purge_removes_the_other_personal_rows_past_the_period(runner, factories):
    expected = personal_rows(factories)
    set_days(30)
    before = counts()
    dry = runner.invoke(args=["purge-auth-log", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    listed = ", ".join(f"{table} {rows}" for table, rows in retention.purge_auth_log(dry_run=True).tables.items())
    assert f"would delete {sum(expected.values())} rows" in dry.output and f"({listed})." in dry.output
    assert retention.purge_auth_log(dry_run=True).tables == expected
    assert counts() == before and db.session.execute(select(PurgeRun)).first() is None

    real = runner.invoke(args=["purge-auth-log"])
    assert real.exit_code == 0 and f"deleted {sum(expected.values())} rows" in real.output
    assert "user_session 4" in real.output and "pending_consent 1" in real.output
    assert "api_token 3" in real.output
    assert counts() == {table: before[table] - expected[table] for table in before}
    run = db.session.execute(select(PurgeRun)).scalar_one()
    assert run.rows_deleted == sum(expected.values())
    assert list(run.rows_by_table.items()) == [(table, expected[table]) for table in
                                                retention.purge_auth_log(dry_run=True).tables]

    agents = set(db.session.execute(select(UserSession.user_agent)).scalars())
    assert agents == {"revoked lately", "abandoned lately", "remembered, over 25 days ago", "live"}
    emails = set(db.session.execute(select(PendingRegistration.email)).scalars())
    assert emails == {"expired-lately@example.com", "waiting@example.com"}
    assert db.session.execute(select(func.count()).select_from(PendingConsent)).scalar_one() == 2
    kept = set(db.session.execute(select(PhoneVerification.status, PhoneVerification.number)).all())
    assert kept == {("cancelled", "+447700900004"), ("verified", "+447700900005"),
                    ("pending", "+447700900006")}
    assert db.session.execute(select(PendingEmailChange.email)).scalars().all() == ["new-young@example.com"]
    tokens = set(db.session.execute(select(ApiToken.name)).scalars())
    assert tokens == {"revoked lately", "expired lately", "live"}
    assert retention.purge_auth_log().rows == 0  # nothing is left past the period


def test_the_pages_show_the_last_runs_rows_per_table(staff_web, factories):
    expected = personal_rows(factories)
    set_days(30)
    retention.purge_auth_log()
    breakdown = ", ".join(f"{table} {rows}" for table, rows in expected.items())
    auth_log = staff_web.get("/admin/auth-log").get_data(as_text=True)
    assert f"({sum(expected.values())} rows: {breakdown})" in auth_log
    compliance = staff_web.get("/admin/compliance").get_data(as_text=True)
    assert f"<li>Deleted per table: {breakdown}</li>" in compliance


def test_purge_keeps_a_signed_in_browser_signed_in(client_web, client_user):
    _session(client_user, 31 * DAY, 31 * DAY, revoked=31 * DAY)
    db.session.commit()
    set_days(1)
    result = retention.purge_auth_log()
    assert result.tables["user_session"] == 1
    assert client_web.get("/settings/general").status_code == 200
    assert db.session.execute(select(func.count()).select_from(UserSession)).scalar_one() == 1


def test_purge_keeps_a_live_api_token_working(app, client_web, client_user):
    secret = make_token(client_web, days=1)
    _api_token(client_user, "revoked long ago", 300 * DAY, revoked=31 * DAY)
    db.session.commit()
    set_days(1)
    assert retention.purge_auth_log().tables["api_token"] == 1
    assert app.test_client().get("/api/v1/whoami", headers=bearer(secret)).status_code == 200
    assert db.session.execute(select(ApiToken.name)).scalars().all() == ["ci"]


def test_the_other_tables_purge_in_batches(app, factories):
    user = factories.client_user()
    _document, version = publish("Privacy policy", True)
    for n in range(5):
        _session(user, 40 * DAY, 35 * DAY + n * timedelta(hours=1), revoked=35 * DAY)
        _registration(f"gone{n}@example.com", -20 * DAY, version)
    _session(user, DAY, DAY, revoked=DAY)
    db.session.commit()
    set_days(5)
    result = retention.purge_auth_log(batch_size=2)
    assert result.tables["user_session"] == 5 and result.tables["pending_registration"] == 5
    assert result.tables["pending_consent"] == 5 and result.rows == 15
    assert counts()["user_session"] == 1 and counts()["pending_registration"] == 0


def test_purge_keeps_a_live_session_of_the_longer_lifetime(make_app, client_user):
    """Clients may keep a session longer than staff: the purge reads the longer limits."""
    app = make_app(SESSION_MAX_HOURS=72, STAFF_SESSION_MAX_HOURS=12,
                   SESSION_IDLE_MINUTES=3 * 24 * 60, STAFF_SESSION_IDLE_MINUTES=30)
    web = WebClient(app.test_client())
    web.login("client@example.com", "client password 1")
    row = db.session.execute(select(UserSession)).scalar_one()
    row.created_at = row.last_seen_at = utcnow() - timedelta(hours=40)
    db.session.commit()
    set_days(1)
    with app.app_context():
        assert retention.purge_auth_log().tables["user_session"] == 0
    assert web.get("/settings/general").status_code == 200


def test_the_auth_log_page_shows_the_oldest_row_kept(staff_web):
    add_events([timedelta(days=3), timedelta(days=10, hours=2), timedelta(days=1)])
    set_days(30)
    oldest = utcnow() - timedelta(days=10, hours=2)
    page = staff_web.get("/admin/auth-log").get_data(as_text=True)
    assert f"oldest row kept: {oldest:%Y-%m-%d %H:%M} UTC" in page


def test_a_period_of_zero_days_keeps_every_row(staff_web, runner):
    """Staff switch the purge off with 0; the longest period is a hundred years."""
    set_days(30)
    add_events([timedelta(days=5000)])
    url, page = "/admin/settings/security/retention", "/admin/settings/security"
    off = staff_web.htmx("POST", url, page_url=page, data={"days": "0"})
    assert off.status_code == 200 and "Saved" in off.get_data(as_text=True)
    assert "nothing deleted" in runner.invoke(args=["purge-auth-log"]).output and max(ages_left()) == 5000 * 24
    assert staff_web.htmx("POST", url, page_url=page, data={"days": "36500"}).status_code == 200
    assert staff_web.htmx("POST", url, page_url=page, data={"days": "36501"}).status_code == 422
    assert 'value="36500"' in staff_web.get(page).get_data(as_text=True)


def test_each_batch_is_its_own_transaction(app, factories):
    """A purge of millions of rows holds no long transaction: at most `batch_size` rows of a table
    go between two commits."""
    user = factories.client_user()
    _document, version = publish("Privacy policy", True)
    add_events([timedelta(days=10 + n) for n in range(7)])
    for n in range(5):
        _session(user, 40 * DAY, 35 * DAY + n * timedelta(hours=1), revoked=35 * DAY)
        _registration(f"gone{n}@example.com", -20 * DAY, version)
    db.session.commit()
    set_days(5)
    with recorded(db.engine, commits=True) as statements:
        assert retention.purge_auth_log(batch_size=2).rows == 22
    deletes, transactions = {}, [[]]
    for statement in statements:
        if statement == "COMMIT":
            transactions.append([])
        elif statement.upper().startswith("DELETE FROM"):
            table = statement.split()[2].strip('"')
            transactions[-1].append(table)
            deletes[table] = deletes.get(table, 0) + 1
    batched = {"auth_event": 4, "user_session": 3, "pending_consent": 3, "pending_registration": 3}
    assert {table: deletes[table] for table in batched} == batched
    assert all(len(tables) == len(set(tables)) for tables in transactions)
