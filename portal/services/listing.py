"""Lists that stay fast on big tables: keyset pages (no OFFSET, no COUNT) and safe search."""

from dataclasses import dataclass

from sqlalchemy import func

from portal.extensions import db
from portal.models.base import MAX_ID

PAGE_SIZE = 50


@dataclass
class Page:
    """One page of rows, newest first, with cursors to the older and newer neighbours."""

    rows: list
    older: int | None  # pass as ?before= for the next (older) page
    newer: int | None  # pass as ?after= for the previous (newer) page


def cursor_args(args) -> dict:
    """`before` / `after` from the query string; anything that is not an id is ignored."""
    cursors = {}
    for name in ("before", "after"):
        value = args.get(name, "")
        if value.isdigit() and int(value) <= MAX_ID:
            cursors[name] = int(value)
    return cursors


def keyset(stmt, key, before: int | None = None, after: int | None = None,
           size: int = PAGE_SIZE) -> Page:
    """Run `stmt` one page at a time along the unique integer column `key`, descending."""
    if after is not None:
        stmt = stmt.where(key > after).order_by(key.asc())
    else:
        if before is not None:
            stmt = stmt.where(key < before)
        stmt = stmt.order_by(key.desc())
    result = db.session.execute(stmt.limit(size + 1))
    rows = list(result.scalars() if len(stmt.column_descriptions) == 1 else result.all())
    more = len(rows) > size
    rows = rows[:size]
    if after is not None:
        rows.reverse()
    keys = [_key_of(row, key) for row in rows]
    older = keys[-1] if rows and (more or after is not None) else None
    newer = keys[0] if rows and (before is not None or (after is not None and more)) else None
    return Page(rows, older, newer)


def _key_of(row, key) -> int:
    entity = row[0] if hasattr(row, "_mapping") else row
    return getattr(entity, key.key)


def contains(column, text: str):
    """Case-insensitive "contains `text`", with LIKE wildcards in `text` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m"}


def period(column, unit: str):
    """The UTC day or month of a timestamp column, to group by (read it back with `period_label`)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(unit, func.timezone("UTC", column))  # cheaper per row than to_char
    return func.strftime(FORMATS[unit], column)


def period_label(value, unit: str) -> str:
    """A `period` value as "YYYY-MM-DD" (day) or "YYYY-MM" (month)."""
    return value if isinstance(value, str) else value.strftime(FORMATS[unit])
