"""Auth-log retention: the period on Security settings, the batched purge, its summary."""

from datetime import timedelta

from flask import render_template
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuthEvent
from portal.models.base import utcnow
from portal.models.compliance import PurgeRun
from portal.services import retention


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
    assert "30 days" in html and f"oldest row kept: {oldest}" in html and "(1 rows)" in html


def test_auth_log_page_shows_the_retention(staff_web):
    add_events([timedelta(days=2)])
    set_days(30)
    page = staff_web.get("/admin/auth-log").get_data(as_text=True)
    assert "Retention: 30 days" in page and "last purge: never" in page
