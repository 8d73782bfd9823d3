"""Operator commands: create-admin and seed-demo."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User
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
