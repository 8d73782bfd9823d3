"""Integration → Modules: each change audited under its name, uninstall refused while a job runs, unknown keys 404."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from portal.models.base import utcnow
from portal.models.compliance import ErasureJob
from portal.services import modules
from tests.access_helpers import browser, staff_with

PAGE = "/admin/integration/modules"
INSTALL, UNINSTALL = (f"{PAGE}/{modules.GDPR_CLEAR_DATA.key}/{change}" for change in ("install", "uninstall"))
SETTING = modules.GDPR_CLEAR_DATA.setting


def test_install_and_uninstall_are_audited_each_under_its_name(app, factories):
    web = browser(app, staff_with(factories, "settings.modules").login)
    installed = web.htmx("POST", INSTALL, page_url=PAGE).get_data(as_text=True)
    assert 'badge ok">installed' in installed and f'hx-post="{UNINSTALL}"' in installed
    assert 'badge ok">installed' in web.get(PAGE).get_data(as_text=True)
    uninstalled = web.htmx("POST", UNINSTALL, page_url=PAGE).get_data(as_text=True)
    assert "not installed" in uninstalled and f'hx-post="{INSTALL}"' in uninstalled
    events = db.session.execute(select(AuditEvent.action, AuditEvent.changes)
                                .where(AuditEvent.action.like("module_%")).order_by(AuditEvent.id)).all()
    assert [tuple(event) for event in events] == [
        ("module_installed", {SETTING: [False, True]}), ("module_uninstalled", {SETTING: [True, False]})]


def test_uninstall_is_refused_while_a_clear_data_job_runs(app, factories):
    admin = staff_with(factories, "settings.modules")
    modules.install(modules.GDPR_CLEAR_DATA)
    job = ErasureJob(client_id=factories.client_user().client_id, requested_by_id=admin.id, rows_changed={})
    db.session.add(job)
    db.session.commit()
    web = browser(app, admin.login)
    refused = web.htmx("POST", UNINSTALL, page_url=PAGE).get_data(as_text=True)
    assert "A Clear data job is still running; let it finish first." in refused
    assert 'badge ok">installed' in refused and 'badge ok">installed' in web.get(PAGE).get_data(as_text=True)
    job.finished_at = utcnow()
    db.session.commit()
    assert "not installed" in web.htmx("POST", UNINSTALL, page_url=PAGE).get_data(as_text=True)
    assert "not installed" in web.get(PAGE).get_data(as_text=True)


def test_an_unknown_module_is_404_and_changes_nothing(app, factories):
    web = browser(app, staff_with(factories, "settings.modules").login)
    for change in ("install", "uninstall"):
        assert web.htmx("POST", f"{PAGE}/no_such_module/{change}", page_url=PAGE).status_code == 404
    assert "not installed" in web.get(PAGE).get_data(as_text=True)
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action.like("module_%"))).first() is None
