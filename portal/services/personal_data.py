"""Where personal data lives: each area registers how to describe and erase its part of it.

The GDPR clear-data module walks this registry, so a table with personal data that is not
registered here is a table GDPR erasure misses.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, delete

from portal.extensions import db

UserIds = list[int] | Select  # the users to erase: their ids, or a SELECT of them (the clear-data job's batch)


@dataclass(frozen=True)
class PersonalData:
    """One table's personal fields, for the preview and the erasure."""

    name: str  # e.g. "auth_event"
    fields: dict  # field -> what happens, e.g. {"ip": "erased", "amount": "kept: Art. 17(3)(b)"}
    erase: Callable[[UserIds], int]  # erase(user_ids) -> rows changed; flushes, never commits


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
