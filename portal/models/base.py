"""Shared column helpers: UTC timestamps, and text folded to lower case for search indexes."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

MAX_ID = 2**31 - 1  # the largest id an integer primary key holds on every supported database


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite forgets zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class folded(FunctionElement):
    """lower(text) ordered byte by byte, so that the values starting with a prefix are one range of
    an index on it: PostgreSQL compares it in the "C" collation, SQLite compares bytes already."""

    type = String()
    inherit_cache = True


@compiles(folded)
def _folded(element, compiler, **kw):
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _folded_postgresql(element, compiler, **kw):
    return f'(lower({compiler.process(element.clauses, **kw)}) COLLATE "C")'
