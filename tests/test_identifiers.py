"""Logins and emails are one namespace: no value is one account's login and another's email."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import PendingRegistration, User, UserKind
from portal.services import passwords
from portal.services.identifiers import LOGIN_MAX
from portal.services.registration import default_provider
from tests.outbox import link_in, messages
from tests.signup import register

STAFF_LOGIN = "Ops@Example.com"  # a staff login that looks like an email address


def users_named(value: str) -> int:
    return db.session.execute(select(func.count(User.id)).where(
        (func.lower(User.login) == value.lower()) | (User.email == value.lower()))).scalar_one()


def test_registration_cannot_take_a_staff_login(web, factories):
    factories.staff(login=STAFF_LOGIN, password="staff password 1", email="ops-staff@example.com")
    answer = register(web, email="ops@example.com").get_data(as_text=True)
    assert "Check your email" in answer  # the same answer as for any address
    assert db.session.execute(select(PendingRegistration)).first() is None
    assert messages(to="ops@example.com") == []
    # its owner is told instead: a mail goes out as for any address, so the time tells nothing either
    [notice] = messages(to="ops-staff@example.com")
    assert notice.subject == "Someone tried to register with your login"
    assert "tried to create an account with your login ops@example.com." in notice.body
    assert users_named("ops@example.com") == 1
    assert web.post_form("/login", {"login": "ops@example.com", "password": "staff password 1"}).status_code == 302


def test_a_link_sent_before_the_login_was_taken_creates_nothing(web, factories):
    register(web, email="ops@example.com")
    path = link_in("ops@example.com")
    factories.staff(login=STAFF_LOGIN, password="staff password 1", email="ops-staff@example.com")
    refused = web.post_form(path, {})
    assert refused.status_code == 302 and refused.headers["Location"] == "/register"
    assert users_named("ops@example.com") == 1


def test_a_new_administrator_cannot_take_a_clients_email_as_login(staff_web, factories):
    factories.client_user(email="client2@example.com")
    response = staff_web.post_form("/admin/administrators/new", {
        "login": "Client2@Example.com", "email": "someone@example.com", "name": "Clash"})
    assert "An account with this login or email already exists." in response.get_data(as_text=True)
    assert users_named("client2@example.com") == 1


def test_an_administrator_cannot_be_renamed_to_a_clients_email(staff_web, factories):
    factories.client_user(email="client3@example.com")
    target = factories.staff(login="renamed")
    response = staff_web.post_form(f"/admin/administrators/{target.id}", {
        "login": "CLIENT3@example.com", "email": target.email, "name": "Renamed"})
    assert "An account with this login or email already exists." in response.get_data(as_text=True)
    assert db.session.get(User, target.id).login == "renamed"


EXISTS = "An account with this login or email already exists."


def error_under(body: str, field: str) -> bool:
    return f'<p class="error" id="{field}-error">{EXISTS}</p>' in body


def test_a_clash_is_shown_under_the_field_that_clashes(staff_web, factories):
    factories.client_user(email="client4@example.com")
    factories.staff(login="keeper", email="keeper@example.com")
    target = factories.staff(login="moved")
    new_email = staff_web.post_form("/admin/administrators/new", {
        "login": "newcomer", "email": "Client4@example.com", "name": "New"}).get_data(as_text=True)
    assert error_under(new_email, "email") and not error_under(new_email, "login")
    assert 'value="newcomer"' in new_email
    new_login = staff_web.post_form("/admin/administrators/new", {
        "login": "keeper", "email": "fresh@example.com", "name": "New"}).get_data(as_text=True)
    assert error_under(new_login, "login") and not error_under(new_login, "email")
    edit_email = staff_web.post_form(f"/admin/administrators/{target.id}", {
        "login": "moved", "email": "keeper@example.com", "name": "Moved"}).get_data(as_text=True)
    assert error_under(edit_email, "email") and not error_under(edit_email, "login")
    edit_login = staff_web.post_form(f"/admin/administrators/{target.id}", {
        "login": "KEEPER@example.com", "email": target.email, "name": "Moved"}).get_data(as_text=True)
    assert error_under(edit_login, "login") and not error_under(edit_login, "email")
    assert users_named("newcomer") == 0 and db.session.get(User, target.id).email == "moved@staff.example.com"


def test_rows_from_before_the_shared_namespace_open_neither_account(web, factories, caplog):
    """Two rows a database may hold from an older version: sign-in and recovery never guess which
    account a value names (and never answer 500); each still signs in with its own email."""
    factories.client_user(email="dup@example.com", password="client password 1")
    staff = User(provider_id=default_provider().id, kind=UserKind.STAFF, login="DUP@example.com",
                 email="dup-staff@example.com", name="Dup", full_access=False)
    passwords.set_password(staff, "staff password 1")
    db.session.add(staff)
    db.session.commit()
    for password in ("client password 1", "staff password 1"):
        refused = web.post_form("/login", {"login": "dup@example.com", "password": password})
        assert refused.status_code == 200 and "Wrong login or password." in refused.get_data(as_text=True)
    assert "share a login or email" in caplog.text
    recovery = web.post_form("/recover", {"login": "dup@example.com"})
    assert recovery.status_code == 200 and "Check your email" in recovery.get_data(as_text=True)
    assert messages() == []
    assert web.post_form("/login", {"login": "dup-staff@example.com", "password": "staff password 1"}
                         ).status_code == 302


LOGIN_RULE = "A login has only the letters A to Z (no accents), digits and the marks . _ - @ and +."


def test_a_login_outside_ascii_is_refused_wherever_one_is_chosen(staff_web, runner, factories):
    """SQLite's lower() folds ASCII only (and PostgreSQL's depends on the locale), so a login such as
    "Ünal" could neither be found by sign-in nor stop a second "ünal": no login leaves ASCII."""
    form = staff_web.post_form("/admin/administrators/new", {
        "login": "Ünal", "email": "unal@example.com", "name": "Ünal Demir"}).get_data(as_text=True)
    assert f'<p class="error" id="login-error">{LOGIN_RULE}</p>' in form
    assert 'value="unal@example.com"' in form and 'value="Ünal Demir"' in form
    cli = runner.invoke(args=["create-admin", "ünal", "unal@example.com", "--password-stdin"],
                        input="long enough password\n")
    assert cli.exit_code != 0 and LOGIN_RULE in cli.output
    assert runner.invoke(args=["create-admin", "Unal.Demir+ops@Example-1.com", "unal@example.com",
                               "--password-stdin"], input="long enough password\n").exit_code == 0
    assert db.session.execute(select(User.login).where(User.email == "unal@example.com")).scalar_one() \
        == "Unal.Demir+ops@Example-1.com"
    assert users_named("ünal") == 0
    unal = db.session.execute(select(User).where(User.email == "unal@example.com")).scalar_one()
    renamed = staff_web.post_form(f"/admin/administrators/{unal.id}", {"login": "Ünal", "email": "unal@example.com"})
    assert renamed.status_code == 200 and LOGIN_RULE in renamed.get_data(as_text=True)
    assert db.session.get(User, unal.id).login == "Unal.Demir+ops@Example-1.com"
    db.session.get(User, unal.id).login = "josé"  # made before logins were ASCII: still editable
    db.session.commit()
    kept = staff_web.post_form(f"/admin/administrators/{unal.id}", {"login": "josé", "email": "unal@example.com",
                                                                    "name": "José"})
    assert kept.status_code == 302 and db.session.get(User, unal.id).name == "José"


@pytest.mark.parametrize("login, message", [
    ("jose.ramírez", LOGIN_RULE),  # ASCII up to a later letter
    ("x" * (LOGIN_MAX + 1), f"A login has 1 to {LOGIN_MAX} characters."),
], ids=["late non-ASCII letter", "too long"])
def test_create_admin_refuses_a_login_no_account_may_have(runner, login, message):
    cli = runner.invoke(args=["create-admin", login, "new-admin@example.com", "--password-stdin"],
                        input="long enough password\n")
    assert cli.exit_code != 0 and message in cli.output
    assert db.session.execute(select(User)).first() is None
