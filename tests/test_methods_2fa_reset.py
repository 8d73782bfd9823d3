"""Reset two-factor: staff turn off the second factors of an owner who lost them, asked first,
audited, the owner told; only with its function, never for oneself or someone above."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, RecoveryCode, SecondFactor, SignInCode
from portal.models.base import utcnow
from portal.services import settings
from portal.services.auth_methods import STAFF_2FA_REQUIRED
from tests.access_helpers import PASSWORD as STAFF_PASSWORD
from tests.access_helpers import browser, staff_with
from tests.methods_helpers import enrol_totp
from tests.outbox import messages
from tests.web import WebClient

CLIENT_PASSWORD = "client password 1"
CONFIRMED = {"current_password": STAFF_PASSWORD}  # the staff member's own password


@pytest.fixture
def enrolled(client_web, client_user):
    """The client user with an authenticator app and recovery codes, set up through the pages."""
    _secret, codes = enrol_totp(client_web, CLIENT_PASSWORD)
    return client_user, codes


def factor_rows(user_id: int) -> tuple[int, int]:
    db.session.expire_all()
    return (len(db.session.execute(select(SecondFactor.id).where(SecondFactor.user_id == user_id)).all()),
            len(db.session.execute(select(RecoveryCode.id).where(RecoveryCode.user_id == user_id)).all()))


def test_support_resets_a_client_users_second_factor_from_the_client_card(app, enrolled, factories, client_web):
    user, _codes = enrolled
    card_url = f"/admin/clients/{user.client_id}"
    reset_url = f"/admin/users/{user.id}/two-factor"
    support = browser(app, staff_with(factories, "clients.view", "users.view", "users.reset_2fa", login="support").login)
    assert f'href="{reset_url}"' in support.get(card_url).get_data(as_text=True)

    asked = support.get(reset_url).get_data(as_text=True)
    assert "authenticator app" in asked and "Reset two-factor" in asked
    assert factor_rows(user.id) == (1, 10)  # asking changes nothing

    done = support.post_form(reset_url, CONFIRMED, page_url=reset_url)
    assert done.status_code == 302 and done.headers["Location"] == card_url
    card = support.get(card_url).get_data(as_text=True)
    assert "Two-factor authentication of client@example.com is off" in card and f'href="{reset_url}"' not in card
    assert factor_rows(user.id) == (0, 0)

    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "second_factor_reset")).scalar_one()
    assert (audit.actor.login, audit.target_id, audit.changes) == (
        "support", user.id, {"second_factors": [["totp"], []], "sessions": [1, 0]})
    assert audit.ip == "127.0.0.1"
    assert client_web.get("/home").headers["Location"].startswith("/login")  # the lost phone's session too
    [notice] = messages(to="client@example.com", subject="Two-factor")
    assert "support turned off two-factor authentication (authenticator app)" in notice.body
    assert "Every browser signed in to the account was signed out" in notice.body
    assert "/recover" in notice.body and "/settings/security" in notice.body

    owner = WebClient(app.test_client())
    signed_in = owner.post_form("/login", {"login": "client@example.com", "password": CLIENT_PASSWORD})
    assert signed_in.headers["Location"] == "/home"  # the password alone, as the page said


def test_a_second_reset_finds_nothing_and_logs_nothing(app, enrolled, factories):
    user, _codes = enrolled
    support = browser(app, staff_with(factories, "users.view", "users.reset_2fa", login="support").login)
    reset_url = f"/admin/users/{user.id}/two-factor"
    assert support.post_form(reset_url, CONFIRMED, page_url=reset_url).headers["Location"] == "/admin/users"
    again = support.post_form(reset_url, CONFIRMED, page_url=reset_url)
    told = support.get(again.headers["Location"]).get_data(as_text=True)
    assert '<p class="flash flash-info">client@example.com has no second factor.</p>' in told  # nothing done
    assert "has no second factor" in support.get(reset_url).get_data(as_text=True)
    assert len(db.session.execute(select(AuditEvent).where(AuditEvent.action == "second_factor_reset")).all()) == 1
    assert len(messages(to="client@example.com", subject="Two-factor")) == 1


def test_reset_needs_its_function_and_a_post_with_the_token(app, enrolled, factories):
    user, _codes = enrolled
    reset_url = f"/admin/users/{user.id}/two-factor"
    viewer = browser(app, staff_with(factories, "clients.view", "users.view", "users.unlock", login="viewer").login)
    assert f'href="{reset_url}"' not in viewer.get(f"/admin/clients/{user.client_id}").get_data(as_text=True)
    assert viewer.get(reset_url).status_code == 403
    assert viewer.post_form(reset_url, {}, page_url="/admin/users").status_code == 403
    support = browser(app, staff_with(factories, "users.reset_2fa", login="support").login)
    forged = support.post(reset_url, data={})  # no CSRF token
    assert forged.status_code == 400
    assert factor_rows(user.id) == (1, 10)
    staff_target = staff_with(factories, login="ops")
    assert support.get(f"/admin/users/{staff_target.id}/two-factor").status_code == 404  # not a client user


def test_a_manager_resets_an_administrator_who_must_enrol_again(app, factories):
    """The administrator signs in with the password alone, straight into the enrolment gate."""
    target = factories.staff(login="ops", password=STAFF_PASSWORD)
    enrol_totp(browser(app, "ops"), STAFF_PASSWORD)
    staff_with(factories, "admins.view", "admins.manage", login="manager")
    manager = browser(app, "manager")
    edit_url, reset_url = f"/admin/administrators/{target.id}", f"/admin/administrators/{target.id}/two-factor"
    assert f'href="{reset_url}"' in manager.get(edit_url).get_data(as_text=True)
    assert "asked to do at their next sign-in" in manager.get(reset_url).get_data(as_text=True)
    assert manager.post_form(reset_url, CONFIRMED, page_url=reset_url).headers["Location"] == edit_url
    assert factor_rows(target.id) == (0, 0)
    [notice] = messages(to="ops@staff.example.com", subject="Two-factor")
    assert "asked to set one up again when you next sign in" in notice.body

    settings.update({STAFF_2FA_REQUIRED: True})
    db.session.commit()
    again = WebClient(app.test_client())
    assert again.post_form("/login", {"login": "ops", "password": STAFF_PASSWORD}).headers["Location"] == "/admin/"
    assert again.get("/admin/").headers["Location"] == "/settings/security"


def test_nobody_resets_their_own_or_a_higher_administrators_second_factor(app, factories):
    boss = factories.staff(login="chief", password=STAFF_PASSWORD, full_access=True)
    db.session.add(SecondFactor(user_id=boss.id, kind="sms", confirmed_at=boss.created_at))
    db.session.commit()
    manager = staff_with(factories, "admins.view", "admins.manage", login="manager")
    managing = browser(app, "manager")
    assert f'href="/admin/administrators/{boss.id}/two-factor"' not in managing.get(
        f"/admin/administrators/{boss.id}").get_data(as_text=True)
    assert managing.post_form(f"/admin/administrators/{boss.id}/two-factor", {},
                              page_url="/admin/administrators").status_code == 403
    assert managing.get(f"/admin/administrators/{manager.id}/two-factor").status_code == 403
    assert factor_rows(boss.id) == (1, 0)


def test_reset_also_removes_an_sms_sign_in_code_in_flight(app, client_web, client_user, factories):
    """A code texted for a sign-in waiting before the reset is removed with the factors, and the
    waiting sign-in ends: it began before the reset, perhaps with the lost phone."""
    client_user.phone, client_user.phone_verified_at = "+447700900131", utcnow()
    db.session.commit()
    client_web.post_form("/settings/security/sms/enable", {"current_password": CLIENT_PASSWORD},
                         page_url="/settings/security")
    waiting = WebClient(app.test_client())
    assert waiting.post_form("/login", {"login": "client@example.com", "password": CLIENT_PASSWORD}
                             ).headers["Location"] == "/login/2fa"
    waiting.post_form("/login/2fa/sms", {}, page_url="/login/2fa")
    assert len(db.session.execute(select(SignInCode.id).where(SignInCode.user_id == client_user.id)).all()) == 1
    support = browser(app, staff_with(factories, "users.reset_2fa", login="support").login)
    reset_url = f"/admin/users/{client_user.id}/two-factor"
    assert support.post_form(reset_url, CONFIRMED, page_url=reset_url).status_code == 302
    db.session.expire_all()
    assert db.session.execute(select(SignInCode.id).where(SignInCode.user_id == client_user.id)).all() == []
    assert waiting.get("/login/2fa").headers["Location"] == "/login"


def test_a_viewer_of_administrators_without_manage_cannot_reset_one(app, factories):
    """Manage administrators is needed, even over an administrator who holds nothing more."""
    target = factories.staff(login="ops", password=STAFF_PASSWORD)
    db.session.add(SecondFactor(user_id=target.id, kind="sms", confirmed_at=target.created_at))
    db.session.commit()
    viewer = browser(app, staff_with(factories, "admins.view", login="viewer").login)
    reset_url = f"/admin/administrators/{target.id}/two-factor"
    assert viewer.get(reset_url).status_code == 403
    assert viewer.post_form(reset_url, {}, page_url=f"/admin/administrators/{target.id}").status_code == 403
    assert factor_rows(target.id) == (1, 0)


def test_ones_own_administrator_page_offers_no_reset(app, factories):
    manager = staff_with(factories, "admins.view", "admins.manage", login="manager")
    managing = browser(app, "manager")  # signed in first: the factor added below is not asked for
    db.session.add(SecondFactor(user_id=manager.id, kind="sms", confirmed_at=manager.created_at))
    db.session.commit()
    page = managing.get(f"/admin/administrators/{manager.id}")
    assert page.status_code == 200
    assert f'href="/admin/administrators/{manager.id}/two-factor"' not in page.get_data(as_text=True)


def test_a_set_up_left_half_done_offers_no_reset_on_the_client_card(app, client_web, client_user, factories):
    """An authenticator app begun but never confirmed is no second factor: nothing to reset."""
    client_web.post_form("/settings/security/totp/begin", {}, page_url="/settings/security")
    assert len(db.session.execute(select(SecondFactor.id).where(
        SecondFactor.user_id == client_user.id, SecondFactor.confirmed_at.is_(None))).all()) == 1
    support = browser(app, staff_with(factories, "clients.view", "users.reset_2fa", login="support").login)
    card = support.get(f"/admin/clients/{client_user.client_id}").get_data(as_text=True)
    assert "client@example.com" in card
    assert f'href="/admin/users/{client_user.id}/two-factor"' not in card
