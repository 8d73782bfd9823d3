"""Temporary keys: root only, single use, expiry, closed accounts, the key leaves the URL, 2FA still asked."""

import os
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, TempKey
from portal.services import auth_methods
from tests.methods_helpers import enrol_totp, next_totp
from tests.web import WebClient

needs_root = pytest.mark.usefixtures("running_as_root")


def issue(runner, login, *extra):
    result = runner.invoke(args=["temp-key", login, *extra])
    assert result.exit_code == 0, result.output
    return re.search(r"http://portal\.test(/login/key/\S+)", result.output).group(1)


def open_key(web, path):
    response = web.get(path)
    assert response.status_code == 302 and response.headers["Location"] == "/login/key"
    return web.post_form("/login/key", {})


@needs_root
def test_key_signs_in_once_and_leaves_the_url(runner, web, app, client_user):
    path = issue(runner, "client@example.com")
    key = path.rsplit("/", 1)[1]
    assert len(key) >= 22  # at least 128 random bits, URL-safe
    row = db.session.execute(select(TempKey)).scalar_one()
    assert key not in row.key_hash and (row.expires_at - row.created_at) <= timedelta(minutes=15, seconds=5)
    assert web.get("/login/key").status_code == 302  # nothing held yet: back to login
    response = open_key(web, path)
    assert response.status_code == 302 and response.headers["Location"] == "/home"
    assert web.get("/home").status_code == 200
    again = WebClient(app.test_client())
    body = open_key(again, path).get_data(as_text=True)
    assert "This key is invalid, used or expired." in body
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.actor_label)).all()
    assert ("temp_key_issued", "root (CLI)") in actions and ("temp_key_used", "client@example.com") in actions
    assert all(key not in str(change) for change in db.session.execute(select(AuditEvent.changes)).scalars())


@needs_root
def test_get_alone_changes_nothing(runner, web, client_user):
    path = issue(runner, "client@example.com")
    web.get(path)
    web.get("/login/key")
    assert db.session.execute(select(TempKey.used_at)).scalar_one() is None


@needs_root
def test_expired_key_refused(runner, web, client_user):
    path = issue(runner, "client@example.com", "--ttl", "1")
    row = db.session.execute(select(TempKey)).scalar_one()
    row.expires_at = row.created_at - timedelta(seconds=1)
    db.session.commit()
    assert "This key is invalid, used or expired." in open_key(web, path).get_data(as_text=True)


@needs_root
def test_closed_accounts_get_no_key_and_keys_die_with_them(runner, web, factories, client_user):
    factories.client_user(email="denied@example.com", access_denied=True)
    factories.client_user(email="gone@example.com", is_active_account=False)
    for login in ("denied@example.com", "gone@example.com"):
        result = runner.invoke(args=["temp-key", login])
        assert result.exit_code != 0 and "denied access or deactivated" in result.output
    path = issue(runner, "client@example.com")
    client_user.access_denied = True
    db.session.commit()
    assert "This key is invalid" in open_key(web, path).get_data(as_text=True)


def test_refused_unless_root(runner, client_user):
    euid = os.geteuid()
    if euid == 0:
        os.seteuid(65534)
    try:
        result = runner.invoke(args=["temp-key", "client@example.com"])
    finally:
        if euid == 0:
            os.seteuid(0)
    assert result.exit_code != 0 and "Only root can issue temporary keys" in result.output
    assert db.session.execute(select(TempKey)).first() is None


@needs_root
def test_key_replaces_the_password_not_the_second_factor(runner, app, client_web, client_user):
    secret, _codes = enrol_totp(client_web, "client password 1")
    browser = WebClient(app.test_client())
    response = open_key(browser, issue(runner, "client@example.com"))
    assert response.headers["Location"] == "/login/2fa"
    assert browser.get("/home").status_code == 302
    done = browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)})
    assert done.headers["Location"] == "/home"


@needs_root
def test_switched_off_method_refuses_keys(runner, web, client_user):
    auth_methods.save_switches(client_user.provider_id, {**auth_methods.current_values(client_user.provider_id),
                                                         "temp_key": False})
    db.session.commit()
    result = runner.invoke(args=["temp-key", "client@example.com"])
    assert result.exit_code != 0 and "switched off" in result.output
    assert web.get("/login/key/whatever").status_code == 404


def unused_keys() -> int:
    return len(db.session.execute(select(TempKey).where(TempKey.used_at.is_(None))).all())


@needs_root
def test_deny_access_ends_a_key_for_good(runner, app, staff_web, factories):
    """Restoring access opens the doors the person can use, not a key issued before the denial."""
    target = factories.staff(login="target", full_access=True)
    path = issue(runner, "target")
    for denied in (True, False):
        url = f"/admin/administrators/{target.id}/deny-access"
        staff_web.htmx("POST", url, page_url="/admin/administrators", data={"denied": "y"} if denied else {})
    assert unused_keys() == 0
    assert "This key is invalid" in open_key(WebClient(app.test_client()), path).get_data(as_text=True)
    revoked = db.session.execute(select(AuditEvent).where(AuditEvent.action == "temp_key_revoked")).scalar_one()
    assert revoked.actor_label == "boss" and revoked.changes == {"unused_temp_keys": [1, 0]}
    assert path.rsplit("/", 1)[1] not in str(revoked.changes)


@needs_root
def test_sign_out_everywhere_else_ends_keys(runner, app, client_web):
    path = issue(runner, "client@example.com")
    client_web.post_form("/settings/security/sessions/end-others", {}, page_url="/settings/security")
    assert unused_keys() == 0
    assert "This key is invalid" in open_key(WebClient(app.test_client()), path).get_data(as_text=True)


@needs_root
def test_a_password_change_ends_keys(runner, app, client_web):
    path = issue(runner, "client@example.com")
    changed = client_web.post_form("/settings/general/password", {
        "current_password": "client password 1", "password": "violet kettle moonlight",
        "confirm": "violet kettle moonlight"}, page_url="/settings/general")
    assert changed.status_code == 302
    assert unused_keys() == 0
    assert "This key is invalid" in open_key(WebClient(app.test_client()), path).get_data(as_text=True)


@needs_root
def test_key_checks_are_throttled_per_address(runner, make_app, factories):
    """Guessing keys from one address meets the sign-in form's per-IP limit."""
    factories.client_user(email="client@example.com")
    limited = make_app(RATELIMIT_LOGIN_PER_IP="2 per minute")
    statuses = []
    for n in range(3):
        web = WebClient(limited.test_client())
        assert web.get(f"/login/key/guessed-key-{n:02d}-aaaaaaaaaaaaaaaaaaaa").status_code == 302
        statuses.append(web.post_form("/login/key", {}).status_code)
    assert statuses == [200, 200, 429]
