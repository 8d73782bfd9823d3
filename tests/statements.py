"""Recording the SQL statements code sends: an N+1 query shows as a count that grows with the rows."""

from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def recorded(engine):
    """Yield a list that collects each statement `engine` executes inside the block."""
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
