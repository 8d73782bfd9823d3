"""Operator commands: create-admin, seed-demo, temp-key, purge-auth-log; database errors told."""

import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, AuthEvent, TempKey, User, UserKind
from portal.models.base import utcnow
from portal.models.compliance import PurgeRun
from portal.services import passwords, retention


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


def test_temp_key_lives_at_most_a_day(runner, client_user, running_as_root):
    longer = runner.invoke(args=["temp-key", "client@example.com", "--ttl", "1441"])
    assert longer.exit_code != 0 and "between 1 and 1440 minutes" in longer.output
    assert db.session.execute(select(TempKey)).first() is None
    day = runner.invoke(args=["temp-key", "client@example.com", "--ttl", "1440"])
    assert day.exit_code == 0 and "valid 1440 minutes" in day.output


# A database that is not there, or not migrated ---------------------------------------------------
UNREACHABLE = "postgresql+psycopg://portal:s3cret-pw@127.0.0.1:1/portal"  # nothing on port 1
COMMANDS = [["seed-demo"], ["create-admin", "ops", "ops@example.com", "--password-stdin"],
            ["temp-key", "client@example.com"], ["purge-auth-log"], ["finish-clear-data"], ["send-notices"]]


@pytest.fixture
def unmigrated_url(database_url, tmp_path):
    """A database without the portal's tables: `db upgrade` never ran on it."""
    if database_url.startswith("postgresql"):
        return f"{database_url}?options=-csearch_path%3Dnot_migrated"
    return f"sqlite:///{tmp_path / 'not-migrated.sqlite'}"


def run_on(request, make_app, url, args):
    """Run a command as `flask --app portal` would: in the context of an app on that database."""
    if args[0] == "temp-key":
        request.getfixturevalue("running_as_root")
    broken = make_app(SQLALCHEMY_DATABASE_URI=url)
    with broken.app_context():
        return broken.test_cli_runner().invoke(args=args, input="long enough password\n")


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: args[0])
def test_commands_on_an_unmigrated_database_say_to_upgrade(request, app, make_app, unmigrated_url,
                                                           args):
    result = run_on(request, make_app, unmigrated_url, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "has no portal tables" in result.output
    assert "Run `flask --app portal db upgrade`" in result.output


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: args[0])
def test_commands_on_an_unreachable_database_name_the_setting(request, app, make_app, args):
    result = run_on(request, make_app, UNREACHABLE, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert ("Cannot connect to the database postgresql+psycopg://portal:***@127.0.0.1:1/portal "
            in result.output)
    assert "SQLALCHEMY_DATABASE_URI" in result.output and "s3cret-pw" not in result.output


def test_an_operator_sees_one_paragraph_not_a_traceback(tmp_path):
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(tmp_path),
           "PORTAL_SQLALCHEMY_DATABASE_URI": UNREACHABLE}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "portal", "purge-auth-log"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    last_line = done.stderr.splitlines()[-1]
    assert last_line.startswith("Error: Cannot connect to the database"), done.stderr


def test_other_database_refusals_are_explained_too(request, app, make_app, tmp_path):
    path = tmp_path / "read-only.sqlite"
    with make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}").app_context():
        db.create_all()
        db.engine.dispose()
    result = run_on(request, make_app, f"sqlite:///file:{path}?mode=ro&uri=true", COMMANDS[1])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "refused the command (attempt to write a readonly database)" in result.output


def test_create_admin_refuses_the_login_or_email_in_the_password(runner):
    for password in ("opsadmin kettle moon", "kettle moon opsmail"):
        result = runner.invoke(args=["create-admin", "opsadmin", "opsmail@example.com", "--password-stdin"],
                               input=f"{password}\n")
        assert result.exit_code != 0 and "Do not use your login, email or name" in result.output, result.output
    assert db.session.execute(select(User).where(User.kind == UserKind.STAFF)).first() is None


def test_create_admin_asks_twice_for_a_hidden_password_and_commits(runner):
    """Without --password-stdin the password is typed twice: a typo creates nobody; the admin
    created is committed, not left in the command's transaction."""
    typo = runner.invoke(args=["create-admin", "ops", "ops@example.com"],
                         input="long enough password\nlong enough pasword\n")
    assert typo.exit_code != 0 and "The two entered values do not match." in typo.output
    assert db.session.execute(select(User).where(User.kind == UserKind.STAFF)).first() is None
    result = runner.invoke(args=["create-admin", "ops", "ops@example.com", "--full-access"],
                           input="long enough password\n" * 2)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("Administrator ops created with Full access.\n")
    assert "long enough password" not in result.output
    db.session.rollback()  # what the command did not commit is gone now
    user = db.session.execute(select(User).where(User.login == "ops")).scalar_one()
    assert user.full_access and passwords.verify_password(user.password_hash, "long enough password")
    assert db.session.execute(select(AuditEvent.action)).scalars().all() == ["admin_created"]


def test_create_admin_keeps_the_spaces_of_a_piped_password(runner):
    result = runner.invoke(args=["create-admin", "ops", "ops@example.com", "--password-stdin"],
                           input="  spaced kettle moon  \n")
    assert result.exit_code == 0 and result.output == "Administrator ops created.\n", result.output
    user = db.session.execute(select(User).where(User.login == "ops")).scalar_one()
    assert passwords.verify_password(user.password_hash, "  spaced kettle moon  ")
    assert not passwords.verify_password(user.password_hash, "spaced kettle moon")


def test_temp_key_lasts_the_configured_minutes_without_ttl(make_app, client_user, running_as_root):
    configured = make_app(TEMP_KEY_MINUTES=30)
    with configured.app_context():
        result = configured.test_cli_runner().invoke(args=["temp-key", "client@example.com"])
    assert result.exit_code == 0 and "valid 30 minutes" in result.output, result.output
    key = db.session.execute(select(TempKey)).scalar_one()
    assert timedelta(minutes=29) < key.expires_at - key.created_at <= timedelta(minutes=30, seconds=5)


def test_purge_auth_log_prints_its_period_cutoff_and_rows(runner):
    """The line a daily timer leaves in the operator's journal."""
    db.session.add(AuthEvent(event="login", created_at=utcnow() - timedelta(days=31), ip="192.0.2.1"))
    retention.set_period(30)
    db.session.commit()
    result = runner.invoke(args=["purge-auth-log"])
    assert result.exit_code == 0, result.output
    run = db.session.execute(select(PurgeRun)).scalar_one()
    line = re.fullmatch(r"Retention 30 days, cut-off (.+) UTC: deleted 1 row in \d+\.\d\d s "
                        r"\(auth_event 1, user_session 0, .*, api_token 0\)\.\n", result.output)
    assert line and line.group(1) == f"{run.cutoff:%Y-%m-%d %H:%M:%S}", result.output
