"""Operator commands: `flask --app portal <command>`."""

import math
import os
import sys

import click
from flask import current_app
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from portal.extensions import db
from portal.services import access, demo, notices, password_policy
from portal.services.identifiers import AccountExists, IdentifierRefused
from portal.services.staff import create_staff
from portal.services.temp_keys import TempKeyRefused, issue_key
from portal.wording import counted


def init_app(app) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(temp_key_command)
    app.cli.add_command(purge_auth_log_command)
    app.cli.add_command(finish_clear_data_command)
    app.cli.add_command(send_notices_command)


# psycopg's SQLSTATEs and SQLite's messages for a table or column that is not there (yet)
MISSING_SCHEMA_STATES = ("42P01", "42703")
MISSING_SCHEMA_MESSAGES = ("no such table", "no such column", "has no column named")


def database_problem(error: DBAPIError) -> str:
    """What an operator reads instead of a traceback: the likely cause and what to do about it."""
    url = db.engine.url.render_as_string(hide_password=True)
    reason = str(error.orig).splitlines()[0].strip()
    if error.statement is None:  # it failed before any statement: no connection
        return (f"Cannot connect to the database {url} ({reason}). Check SQLALCHEMY_DATABASE_URI "
                "(instance/config.py or PORTAL_SQLALCHEMY_DATABASE_URI) and that the database "
                "server is running and accepts this user.")
    if (getattr(error.orig, "sqlstate", None) in MISSING_SCHEMA_STATES
            or any(text in reason for text in MISSING_SCHEMA_MESSAGES)):
        return (f"The database {url} has no portal tables, or older ones ({reason}). Run "
                "`flask --app portal db upgrade`, or check that SQLALCHEMY_DATABASE_URI names the "
                "portal's database.")
    return (f"The database {url} refused the command ({reason}). Check SQLALCHEMY_DATABASE_URI and "
            "the database server, then run the command again.")


class DatabaseCommand(click.Command):
    """A command whose database errors reach the operator as `database_problem`, exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as error:
            raise click.ClickException(database_problem(error)) from error


@click.command("seed-demo", cls=DatabaseCommand)
def seed_demo_command():
    """Create demo data (idempotent) and print the logins created now."""
    created = demo.seed_demo()
    click.echo(f"Demo data ready. Portal: {current_app.config['PUBLIC_URL']}")
    if not created:
        click.echo("All demo accounts existed already; their passwords were not changed.")
    for login, password in created:
        click.echo(f"  login: {login:<24} password: {password}")


@click.command("create-admin", cls=DatabaseCommand)
@click.argument("login")
@click.argument("email")
@click.option("--full-access", is_flag=True, help="Grant every function.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_admin_command(login, email, full_access, password_stdin):
    """Create a staff member; without --password-stdin you are prompted for the password."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        password_policy.enforce(password, login=login, email=email, name=login)
    except password_policy.PasswordRejected as rejected:
        raise click.ClickException(rejected.message) from rejected
    try:
        user = create_staff(login, email, password=password, full_access=full_access)
    except (AccountExists, IdentifierRefused) as error:
        raise click.ClickException(error.message) from error
    access.audit_created(user, actor_label="root (CLI)")
    db.session.commit()
    click.echo(f"Administrator {login} created{' with Full access' if full_access else ''}.")


@click.command("temp-key", cls=DatabaseCommand)
@click.argument("login")
@click.option("--ttl", "minutes", type=int, default=None, help="Minutes the key stays valid (default 15).")
def temp_key_command(login, minutes):
    """Print a one-time sign-in URL for LOGIN (root only)."""
    if os.geteuid() != 0:
        raise click.ClickException("Only root can issue temporary keys (run it with sudo).")
    minutes = current_app.config["TEMP_KEY_MINUTES"] if minutes is None else minutes
    try:
        user, url = issue_key(login, minutes)
    except TempKeyRefused as refusal:
        raise click.ClickException(refusal.message) from refusal
    click.echo(f"One-time sign-in URL for {user.login}, valid {counted(minutes, 'minute')}:")
    click.echo(url)


@click.command("purge-auth-log", cls=DatabaseCommand)
@click.option("--dry-run", is_flag=True, help="Count the rows past the period; delete nothing.")
def purge_auth_log_command(dry_run):
    """Delete auth-log rows, ended sessions and dead sign-ups, phone verifications, links, codes,
    keys and revoked or expired API tokens past the retention period (in batches); run it daily."""
    from portal.services import retention

    result = retention.purge_auth_log(dry_run=dry_run)
    if not result.period_days:
        click.echo("No auth-log retention period is set (Global settings → Security); nothing deleted.")
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"Retention {counted(result.period_days, 'day')}, "
               f"cut-off {result.cutoff:%Y-%m-%d %H:%M:%S} UTC: {verb} {counted(result.rows, 'row')} "
               f"in {result.seconds:.2f} s ({retention.listed(result.tables)}).")


@click.command("finish-clear-data", cls=DatabaseCommand)
def finish_clear_data_command():
    """Run every unfinished GDPR Clear data to its receipt; run it every few minutes."""
    from portal.services import gdpr

    jobs = gdpr.unfinished_jobs()
    if not jobs:
        click.echo("No Clear data is unfinished.")
    for job in jobs:
        gdpr.step(job, seconds=math.inf)
        click.echo(f"Clear data of client #{job.client_id}: finished, "
                   f"{counted(job.done_users, 'user')} erased.")


@click.command("send-notices", cls=DatabaseCommand)
def send_notices_command():
    """Email the security notices due now (a relay was away, a worker died); for cron, or after an outage."""
    run = notices.deliver_due()
    click.echo(f"{counted(run.sent, 'notice')} sent, {run.waiting} still waiting"
               + (f" (next try {run.next_due:%Y-%m-%d %H:%M:%S} UTC)." if run.next_due else "."))
