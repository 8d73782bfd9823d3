"""Recording the SQL statements code sends (an N+1 query shows as a count that grows with the rows)
and explaining them (which indexes a plan uses)."""

from contextlib import contextmanager

from sqlalchemy import event, text

EXPLAIN = {"sqlite": "EXPLAIN QUERY PLAN ", "postgresql": "EXPLAIN "}


@contextmanager
def recorded(engine, with_parameters: bool = False):
    """Yield a list that collects each statement `engine` executes inside the block (with
    `with_parameters`, each as (statement, parameters))."""
    statements = []

    def record(conn, cursor, statement, parameters, *args):
        statements.append((statement, parameters) if with_parameters else statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def plan(connection, statement: str, parameters=()) -> str:
    """The database's plan of `statement`, as one string; PostgreSQL is told to avoid every scan
    it can (on a small test table it would rather scan than use an index)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SET LOCAL enable_seqscan = off"))
    return " ".join(str(row) for row in connection.exec_driver_sql(EXPLAIN[dialect] + statement, parameters))
