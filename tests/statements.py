"""Recording the SQL statements code sends (an N+1 query shows as a count that grows with the rows)
and explaining them (which indexes a plan uses)."""

import threading
from contextlib import contextmanager

from sqlalchemy import event, text

from portal.extensions import db
from tests.web import csrf_token_in

EXPLAIN = {"sqlite": "EXPLAIN QUERY PLAN ", "postgresql": "EXPLAIN "}


@contextmanager
def recorded(engine, with_parameters: bool = False, this_thread_only: bool = False, commits: bool = False):
    """Yield a list that collects each statement `engine` executes inside the block (with
    `with_parameters`, each as (statement, parameters)); `this_thread_only` leaves out other
    threads' (a server's, the sender's); `commits` adds a "COMMIT" for each commit."""
    statements = []
    thread = threading.get_ident()

    def wanted() -> bool:
        return not this_thread_only or threading.get_ident() == thread

    def record(conn, cursor, statement, parameters, *args):
        if wanted():
            statements.append((statement, parameters) if with_parameters else statement)

    def record_commit(conn):
        if wanted():
            statements.append("COMMIT")

    event.listen(engine, "before_cursor_execute", record)
    if commits:
        event.listen(engine, "commit", record_commit)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
        if commits:
            event.remove(engine, "commit", record_commit)


def kinds_of_work(web, path: str, data: dict, page_url: str) -> list[str]:
    """The kinds of statements (SELECT, INSERT...) and the commits that a form's POST sends in the
    request's own thread, in order (`web` a tests.web.WebClient)."""
    token = csrf_token_in(web.get(page_url).get_data(as_text=True), page_url)
    with web.application.app_context():
        engine = db.engine
    with recorded(engine, this_thread_only=True, commits=True) as statements:
        web.post(path, data={**data, "csrf_token": token})
    return [statement.split()[0].upper() for statement in statements]


def plan(connection, statement: str, parameters=()) -> str:
    """The database's plan of `statement`, as one string; PostgreSQL is told to avoid every scan
    it can (on a small test table it would rather scan than use an index)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SET LOCAL enable_seqscan = off"))
    return " ".join(str(row) for row in connection.exec_driver_sql(EXPLAIN[dialect] + statement, parameters))
