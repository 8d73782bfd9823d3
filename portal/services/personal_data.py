"""Where personal data lives: each area registers how to describe, export and erase its part of it.

The GDPR clear-data module and "Download my data" walk this registry, so a table with personal
data that is not registered here is a table both GDPR erasure and the export miss.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete

from portal.extensions import db

UserIds = list[int] | Select  # the users to erase: their ids, or a SELECT of them (the clear-data job's batch)


@dataclass(frozen=True)
class NotExported:
    """Why a table holds nothing to hand over to its person (only hashes of secrets, rows in transit)."""

    reason: str


@dataclass(frozen=True)
class PersonalData:
    """One table's personal fields, for the preview, the export and the erasure."""

    name: str  # e.g. "auth_event"
    fields: dict  # field -> what happens, e.g. {"ip": "erased", "amount": "kept: Art. 17(3)(b)"}
    erase: Callable[[UserIds], int]  # erase(user_ids) -> rows changed; flushes, never commits
    # export(user) -> what the table holds about the user, ready for JSON (never a hash or secret);
    # or why there is nothing to hand over. Required: a table cannot be left out of the export.
    export: Callable[[Any], Any] | NotExported

    def __post_init__(self):
        if not (callable(self.export) or (isinstance(self.export, NotExported) and self.export.reason)):
            raise TypeError(f"{self.name}: export must be a callable or NotExported with a reason")


_REGISTRY: dict[str, PersonalData] = {}


def register(entry: PersonalData) -> None:
    _REGISTRY[entry.name] = entry


def registered() -> list[PersonalData]:
    return list(_REGISTRY.values())


def deleter(model) -> Callable[[UserIds], int]:
    """An eraser that deletes the rows of `model` whose user_id is one of the users'."""
    def erase(user_ids: UserIds) -> int:
        return db.session.execute(delete(model).where(model.user_id.in_(user_ids))).rowcount

    return erase
