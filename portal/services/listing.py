"""Lists that stay fast on big tables: keyset pages (no OFFSET, no COUNT) and indexed search."""

import re
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select

from portal.extensions import db
from portal.models.base import MAX_ID, folded

PAGE_SIZE = 50


@dataclass
class Page:
    """One page of rows, newest first, with cursors to the older and newer neighbours."""

    rows: list
    older: int | None  # pass as ?before= for the next (older) page
    newer: int | None  # pass as ?after= for the previous (newer) page


def parse_id(value) -> int | None:
    """An id sent in a URL, a form or JSON: ASCII digits (not "²") within the range an id column
    holds; anything else is None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_ID else None


def cursor_args(args) -> dict:
    """`before` / `after` from the query string; anything that is not an id is ignored."""
    cursors = {name: parse_id(args.get(name, "")) for name in ("before", "after")}
    return {name: value for name, value in cursors.items() if value is not None}


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


PROBE = 2_000  # a field whose prefix starts at most this many rows is looked up in its index


@dataclass(frozen=True)
class Field:
    """A searched text column: the list's keys of the rows it belongs to, and when it counts."""

    column: object  # e.g. Client.name
    keys: Select | None  # e.g. select(Order.id).join(Client, ...); None: not indexed, always compared
    only: object = None  # an extra condition, e.g. AuthEvent.user_id.is_(None)
    join: tuple | None = None  # (table, on): what the list's query must outer-join to compare it
    accepts: str | None = None  # a regex a term must match to be searched here, e.g. an IP's characters

    def where(self, condition):
        return condition if self.only is None else self.only & condition


def search(stmt, key, fields: list[Field], text: str, probe: int = PROBE, also: tuple[int, ...] = (),
           **cursor) -> Page:
    """A keyset page of `stmt` where a field starts with `text`, in any case; `*` in `text` stands
    for any characters ("*@example.com"). Keys in `also` match too (a number the text names).

    Each field is first looked up in its index (on its `folded` column): where few rows match,
    their keys are paged; where many do, the newest-first scan compares that field row by row
    and meets a page of matches soon. `probe` is how many rows "few" is.
    """
    prefix = text.lower()
    pattern = _like_escape(prefix).replace("*", "%") + "%"
    keys, compared = set(also), []
    for field in fields:
        if field.accepts and not re.fullmatch(field.accepts, prefix):
            continue  # e.g. a name in an IP field: nothing to find, and no scan for it
        found = None if "*" in prefix or field.keys is None else _probe(field, prefix, probe)
        if found is None:
            compared.append(field)
        else:
            keys.update(found)
    for join in dict.fromkeys(field.join for field in compared if field.join):
        stmt = stmt.outerjoin(*join)
    matches = [field.where(folded(field.column).like(pattern, escape="\\")) for field in compared]
    return keyset(stmt.where(or_(key.in_(keys), *matches)), key, **cursor)


def _probe(field: Field, prefix: str, probe: int) -> list[int] | None:
    """The keys of rows whose field starts with `prefix`, by an index range; None past `probe`."""
    upper = prefix + "\U0010ffff"  # above every text that starts with `prefix`, byte-wise
    in_range = field.where((folded(field.column) >= prefix) & (folded(field.column) < upper))
    found = list(db.session.execute(field.keys.where(in_range).limit(probe + 1)).scalars())
    return found if len(found) <= probe else None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def distinct_values(column) -> list:
    """The column's distinct values, sorted, one index probe each (a loose index scan): SELECT
    DISTINCT reads every row of a big log on PostgreSQL. `column` must lead an index."""
    seen = select(func.min(column).label("value")).cte("seen", recursive=True)
    following = select(func.min(column)).where(column > seen.c.value).scalar_subquery()
    seen = seen.union_all(select(following).where(seen.c.value.is_not(None)))
    return list(db.session.execute(select(seen.c.value).where(seen.c.value.is_not(None))).scalars())


FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m"}


def period(column, unit: str):
    """The UTC day or month of a timestamp column, to group by (read it back with `period_label`)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(unit, func.timezone("UTC", column))  # cheaper per row than to_char
    return func.strftime(FORMATS[unit], column)


def period_label(value, unit: str) -> str:
    """A `period` value as "YYYY-MM-DD" (day) or "YYYY-MM" (month)."""
    return value if isinstance(value, str) else value.strftime(FORMATS[unit])
