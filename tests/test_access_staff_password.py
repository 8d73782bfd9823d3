"""Staff actions that could hand an account to someone else ask for the acting staff member's own
password: adding an administrator, moving an administrator's email, resetting a second factor. A
stolen staff session alone can do none of them."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuthEvent, SecondFactor, User
from tests.access_helpers import PASSWORD, browser, staff_with
from tests.outbox import messages
from tests.web import WebClient

MISSING = "Enter your current password to confirm this change."
WRONG = "The current password is not correct."


def error_beside_password(body: str, message: str) -> bool:
    return f'<p class="error" id="current_password-error">{message}</p>' in body


def password_checks_failed() -> list[str]:
    return list(db.session.execute(select(AuthEvent.detail).where(AuthEvent.event == "password_check_failed"))
                .scalars())


def test_adding_an_administrator_needs_ones_own_password(staff_web):
    typed = {"login": "newbie", "email": "newbie@example.com", "name": "New Bie", "functions": ["logs.audit"]}
    for password, message in (("", MISSING), ("not my password", WRONG)):
        refused = staff_web.post_form("/admin/administrators/new", {**typed, "current_password": password})
        body = refused.get_data(as_text=True)
        assert refused.status_code == 200 and error_beside_password(body, message), password
        assert 'value="newbie"' in body and 'value="newbie@example.com"' in body and 'value="New Bie"' in body
        assert 'value="not my password"' not in body
    assert db.session.execute(select(User).where(User.login == "newbie")).first() is None
    assert messages(to="newbie@example.com") == []
    assert password_checks_failed() == ["add administrator"]  # an empty field is not a guess

    added = staff_web.post_form("/admin/administrators/new", {**typed, "current_password": PASSWORD})
    assert added.status_code == 302
    assert db.session.execute(select(User).where(User.login == "newbie")).scalar_one().email == "newbie@example.com"


def test_a_clash_is_told_before_the_password_is_asked(staff_web, factories):
    factories.staff(login="taken")
    body = staff_web.post_form("/admin/administrators/new", {"login": "taken", "email": "fresh@example.com"}
                               ).get_data(as_text=True)
    assert '<p class="error" id="login-error">An account with this login or email already exists.</p>' in body
    assert not error_beside_password(body, MISSING)


def test_moving_an_administrators_email_needs_ones_own_password_and_other_changes_do_not(staff_web, factories):
    target = staff_with(factories, "clients.view", login="ops")
    url = f"/admin/administrators/{target.id}"
    moved = {"login": "ops", "email": "thief@evil.example", "name": "Ops", "functions": ["clients.view"]}
    refused = staff_web.post_form(url, moved)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 200 and error_beside_password(body, MISSING)
    assert 'value="thief@evil.example"' in body
    assert staff_web.post_form(url, {**moved, "current_password": "guess"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(User, target.id).email == "ops@staff.example.com"
    assert messages(subject="Your email address was changed") == []

    renamed = staff_web.post_form(url, {**moved, "email": target.email, "name": "Operations"})
    assert renamed.status_code == 302 and db.session.get(User, target.id).name == "Operations"
    assert staff_web.post_form(url, {**moved, "current_password": PASSWORD}).status_code == 302
    assert db.session.get(User, target.id).email == "thief@evil.example"
    assert password_checks_failed() == ["change administrator email"]


@pytest.mark.parametrize("whose", ["client user", "administrator"])
def test_resetting_a_second_factor_needs_ones_own_password(app, factories, whose):
    if whose == "client user":
        target = factories.client_user(email="owner@example.com")
        manager = staff_with(factories, "users.view", "users.reset_2fa", login="support")
        url = f"/admin/users/{target.id}/two-factor"
    else:
        target = staff_with(factories, login="ops")
        manager = staff_with(factories, "admins.view", "admins.manage", login="support")
        url = f"/admin/administrators/{target.id}/two-factor"
    db.session.add(SecondFactor(user_id=target.id, kind="sms", confirmed_at=target.created_at))
    db.session.commit()
    support = browser(app, manager.login)
    for password, message in (("", "This field is required."), ("guess", WRONG)):
        refused = support.post_form(url, {"current_password": password})
        assert refused.status_code == 422 and error_beside_password(refused.get_data(as_text=True), message)
    db.session.expire_all()
    assert db.session.execute(select(SecondFactor.id).where(SecondFactor.user_id == target.id)).all() != []
    assert messages(subject="Two-factor authentication was turned off on your account") == []
    assert support.post_form(url, {"current_password": PASSWORD}).status_code == 302
    assert db.session.execute(select(SecondFactor.id).where(SecondFactor.user_id == target.id)).all() == []
    assert password_checks_failed() == ["reset two-factor"]


STAFF_PASSWORD_ROUTES = ["/admin/administrators/new", "/admin/administrators/{target}",
                         "/admin/administrators/{target}/two-factor", "/admin/users/{client}/two-factor"]


@pytest.mark.parametrize("limit", ["RATELIMIT_REAUTH_PER_IP", "RATELIMIT_REAUTH_PER_ACCOUNT"])
@pytest.mark.parametrize("route", STAFF_PASSWORD_ROUTES)
def test_every_staff_password_field_is_throttled(make_app, factories, route, limit):
    """A stolen session cannot guess its owner's password through these forms either."""
    staff_with(factories, "admins.view", "admins.manage", "users.view", "users.reset_2fa", login="manager")
    target = staff_with(factories, login="ops")
    client = factories.client_user(email="owner@example.com")
    for user in (target, client):
        db.session.add(SecondFactor(user_id=user.id, kind="sms", confirmed_at=user.created_at))
    db.session.commit()
    web = WebClient(make_app(**{limit: "2 per hour"}).test_client())
    web.login("manager", PASSWORD)
    url = route.format(target=target.id, client=client.id)
    guess = {"login": "ops", "email": "moved@example.com", "current_password": "guess"}
    statuses = [web.post_form(url, guess).status_code for _ in range(3)]
    assert 429 not in statuses[:2] and statuses[2] == 429, statuses


def test_edits_that_ask_no_password_are_not_throttled(make_app, factories):
    """The Administrators form asks the password for some changes only: the others are not counted."""
    staff_with(factories, "admins.view", "admins.manage", login="manager")
    target = staff_with(factories, login="ops")
    web = WebClient(make_app(RATELIMIT_REAUTH_PER_ACCOUNT="2 per hour").test_client())
    web.login("manager", PASSWORD)
    statuses = [web.post_form(f"/admin/administrators/{target.id}", {
        "login": "ops", "email": target.email, "name": f"Ops {number}"}).status_code for number in range(4)]
    assert statuses == [302] * 4
