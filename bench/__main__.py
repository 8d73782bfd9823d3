"""`python -m bench`: data at scale, the portal and a bare Flask app under gunicorn, the results table."""

import argparse
import json
import secrets
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bench import data
from bench.measure import (
    Target,
    clear_data,
    cookie_header,
    htmx_headers,
    list_latency,
    login_against_verify,
    purge,
    signed_in,
    signed_in_staff,
    throughput,
)
from bench.report import machine, write_results
from portal import create_app
from portal.extensions import db
from tests.conftest import _create_postgres_database as create_postgres_database
from tests.servers.gunicorn import GunicornServer

CHECKOUT = Path(__file__).resolve().parents[1]
UNLIMITED = "1000000 per minute"  # the bench signs in far more often than any rate limit allows


def build(config: dict, scale: data.Scale) -> dict:
    app = create_app(config)
    with app.app_context():
        db.create_all()
        facts = data.generate(app.config, scale)
        db.session.commit()
        # Statistics (and on PostgreSQL the visibility map and hint bits): as a running database
        # has them once autovacuum has seen the rows.
        maintenance = "VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(maintenance))
        facts["password_hash"] = db.session.execute(
            text('SELECT password_hash FROM "user" WHERE id = 1')).scalar()
        db.engine.dispose()
    facts["argon2"] = {key: app.config[key] for key in
                       ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM")}
    return facts


LISTS = [  # (name, path, query strings: first page, searches common and rare, a filter, a later page)
    ("users list", "/admin/users", ["", "q=user12345%40example.com", "q=User+0999", "q=Client+0042",
                                    "before=50000"]),
    ("auth log", "/admin/auth-log", ["", "q=user777%40example.com", "q=198.51.7.", "event=login_failed",
                                     "before=500000"]),
    ("orders list", "/admin/orders", ["", "q=Client+00042", "q=VPS+2", "q=active", "before=100000"]),
]


def measure(portal: GunicornServer, bare: GunicornServer, facts: dict, args) -> tuple[list, str]:
    client = signed_in(portal.url, facts["client_login"], facts["password"])
    staff = signed_in_staff(portal.url, facts["staff_login"], facts["password"])
    toggled = facts["staff_ids"][0] + 1  # staff0001: no Full access, so Deny access always applies
    targets = [
        Target("client page: General settings", "/settings/general", 0.35, cookie_header(client)),
        Target("admin list: Administrators (50 rows)", "/admin/administrators", 0.35, cookie_header(staff)),
        Target("Deny access htmx toggle", f"/admin/administrators/{toggled}/deny-access", 0.30,
               htmx_headers(staff, "/admin/administrators"), bodies=["denied=y", ""]),
    ]
    rows, tool = throughput(portal, bare, targets, args.rounds, args.seconds, args.connections)
    logins = [f"user{n}@example.com" for n in range(2, 22)]
    rows += login_against_verify(portal, logins, facts["password"], facts["password_hash"], facts["argon2"])
    for name, path, queries in LISTS:
        rows.append(list_latency(staff, name, path, queries))
    return rows, tool


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql+psycopg://user@host/db): "
                        "the bench creates a fresh database there and drops it after; default SQLite")
    parser.add_argument("--seconds", type=float, default=10, help="length of one load round (10)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/portal rounds (3)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument("--divide", type=int, default=1, help="divide the data scale, for trial runs")
    parser.add_argument("--no-write", action="store_true", help="print only; keep bench/RESULTS.md")
    args = parser.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="portal-bench-")
    drop = None
    if args.database_url:
        database_url, drop = create_postgres_database(args.database_url)  # dropped at the end
    else:
        database_url = f"sqlite:///{workdir}/bench.sqlite"
    config = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secrets.token_hex(32),
              "PUBLIC_URL": "http://127.0.0.1", "RATELIMIT_LOGIN_PER_IP": UNLIMITED,
              "RATELIMIT_LOGIN_PER_ACCOUNT": UNLIMITED}
    env = {"PORTAL_INSTANCE_PATH": workdir,
           **{f"PORTAL_{key}": value if isinstance(value, str) else json.dumps(value)
              for key, value in config.items()}}
    scale = data.Scale.divided(args.divide) if args.divide > 1 else data.Scale()
    facts = {"machine": machine(), "command": shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
             "database": "PostgreSQL" if drop else "SQLite", "scale": ", ".join(
                 f"{key.replace('_', ' ')} {value:,}" for key, value in vars(scale).items()),
             "gunicorn": "2 sync workers, gunicorn.conf.py", "connections": args.connections,
             "seconds": args.seconds, "rounds": args.rounds}
    try:
        print(f"Generating data ({facts['scale']}) into {facts['database']}…")
        started = time.perf_counter()
        facts.update(build({**config, "TESTING": False}, scale))
        print(f"  done in {time.perf_counter() - started:.0f} s")
        with GunicornServer(CHECKOUT, env, workers=2) as portal, \
                GunicornServer(CHECKOUT, {}, workers=2, app="bench.bare:app") as bare:
            print("Measuring…")
            rows, facts["tool"] = measure(portal, bare, facts, args)
        app = create_app({**config, "TESTING": False})  # the big jobs run in-process, servers idle
        rows.append(clear_data(app, facts["big_client_id"], facts["staff_login"], facts["password"]))
        rows.append(purge(app))
    finally:
        if drop:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)
    notes = [
        "Throughput: wrk against each URL with a signed-in browser's cookie (the toggle also sends "
        "HX-Request and the page's X-CSRFToken, alternating deny and restore).",
        "Worker CPU per request: user+system time of the gunicorn workers (recycled ones included) "
        "over the round, from /proc; unlike req/s it barely moves when other work shares the cores.",
        "Login: the server's time for a whole password sign-in (gunicorn's request time, from the "
        "access log), taken in turns with one argon2 verify of the same parameters; medians of 20. "
        "The client's round trip (HTTP over loopback, a new connection each time) is shown beside it.",
        "Lists: sequential requests, each list's first page, a common and a rare search, a filter "
        "and a later keyset page in turn; p50 and p95 of 100.",
        "Clear data: gdpr.start (with the staff password check, one argon2 verify) and every batch "
        "to the receipt, in-process; purge: retention.purge_auth_log with a one-day period, in-process.",
    ]
    if args.no_write:
        from bench.report import table

        print(table(rows))
    else:
        print(write_results(rows, facts, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
