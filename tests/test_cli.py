"""Operator commands: create-admin and seed-demo."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User, UserKind
from portal.services import passwords


def test_create_admin_with_password_stdin(runner):
    result = runner.invoke(args=["create-admin", "ops", "ops@example.com", "--full-access",
                                 "--password-stdin"], input="long enough password\n")
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(User).where(User.login == "ops")).scalar_one()
    assert user.is_staff and user.full_access
    assert passwords.verify_password(user.password_hash, "long enough password")
    audit = db.session.execute(select(AuditEvent)).scalar_one()
    assert audit.action == "admin_created" and audit.actor_label == "root (CLI)"
    assert audit.changes["email"] == [None, "ops@example.com"] and audit.changes["full_access"] == [None, True]
    assert "long enough password" not in str(audit.changes)


def test_create_admin_refuses_duplicates_and_short_passwords(runner):
    args = ["create-admin", "ops", "ops@example.com", "--password-stdin"]
    short = runner.invoke(args=args, input="short\n")
    assert short.exit_code != 0 and "12 characters" in short.output
    common = runner.invoke(args=args, input="password1234\n")
    assert common.exit_code != 0 and "too common" in common.output
    assert runner.invoke(args=args, input="long enough password\n").exit_code == 0
    again = runner.invoke(args=args, input="long enough password\n")
    assert again.exit_code != 0 and "already exists" in again.output


def test_seed_demo_is_idempotent_and_prints_working_logins(runner, web):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    logins = dict(line.split()[1::2] for line in first.output.splitlines() if "password:" in line)
    assert set(logins) >= {"admin", "owner@example.com", "colleague@example.com"}
    count = db.session.execute(select(db.func.count(User.id))).scalar()
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "password:" not in second.output
    assert db.session.execute(select(db.func.count(User.id))).scalar() == count
    web.login("admin", logins["admin"])
    landing = web.get("/admin/")  # staff without a second factor enrol first
    assert landing.status_code == 302 and landing.headers["Location"] == "/settings/security"
    assert "Set up an authenticator app" in web.get("/settings/security").get_data(as_text=True)


def test_create_admin_refuses_what_the_form_would(runner):
    """The CLI has no form: the same rules, and a clear message instead of a database traceback."""
    for login, email, message in [("   ", "ops@example.com", "A login has 1 to 100 characters."),
                                  ("x" * 101, "ops@example.com", "A login has 1 to 100 characters."),
                                  ("ops", "not-an-email", "This is not a valid email address.")]:
        result = runner.invoke(args=["create-admin", login, email, "--password-stdin"],
                               input="long enough password\n")
        assert result.exit_code != 0 and message in result.output, result.output
    assert db.session.execute(select(User).where(User.kind == UserKind.STAFF)).first() is None


def test_temp_key_ttl_zero_is_refused_not_replaced(runner, client_user, running_as_root):
    result = runner.invoke(args=["temp-key", "client@example.com", "--ttl", "0"])
    assert result.exit_code != 0 and "between 1 and 1440 minutes" in result.output
