"""Run-time settings: a registry of keys with defaults; values per provider in the database."""

from dataclasses import dataclass

from flask import g, has_request_context
from sqlalchemy import bindparam, select

from portal.extensions import db
from portal.models import Provider
from portal.models.settings import Setting
from portal.services.events import log_audit


@dataclass(frozen=True)
class SettingKey:
    """A setting as staff see it: its label, and the range or the choices it may take."""

    key: str
    default: object
    label: str
    bounds: tuple[int, int] | None = None  # a number's lowest and highest value
    choices: dict[str, str] | None = None  # value -> label


_KEYS: dict[str, SettingKey] = {}
# Read on every signed-in request (staff 2FA gate, password rules): built once, not per call.
VALUES_OF_PROVIDER = select(Setting.key, Setting.value).where(Setting.provider_id == bindparam("provider_id"))
# A request with no signed-in user (sign-in, registration) reads the default provider's: its id and
# its values in one round trip.
DEFAULT_PROVIDER_VALUES = (select(Provider.id, Setting.key, Setting.value)
                           .outerjoin(Setting, Setting.provider_id == Provider.id)
                           .where(Provider.is_default.is_(True)))


def define(key: str, default, label: str, bounds: tuple[int, int] | None = None,
           choices: dict[str, str] | None = None) -> str:
    """Declare a setting (at import time of the module that owns it); returns the key."""
    _KEYS[key] = SettingKey(key, default, label, bounds, choices)
    return key


def definition(key: str) -> SettingKey:
    return _KEYS[key]


def bounded(key: str, provider_id: int | None = None) -> int:
    """A number setting's value, held inside its bounds whatever is stored."""
    low, high = _KEYS[key].bounds
    return max(low, min(int(get(key, provider_id)), high))


def _provider_id(provider_id: int | None) -> int:
    if provider_id is not None:
        return provider_id
    from portal.services.registration import default_provider

    if not has_request_context():
        return default_provider().id
    if "_default_provider_id" not in g:  # a sign-in asks four times: look it up once a request
        rows = db.session.execute(DEFAULT_PROVIDER_VALUES).all()
        if rows:
            g._default_provider_id = rows[0].id
            g.setdefault("_settings_cache", {})[rows[0].id] = {
                row.key: row.value for row in rows if row.key is not None}
        else:
            g._default_provider_id = default_provider().id
    return g._default_provider_id


def _values(provider_id: int) -> dict:
    """All stored values of a provider, read once per request."""
    cache = g.setdefault("_settings_cache", {})
    if provider_id not in cache:
        cache[provider_id] = dict(db.session.execute(VALUES_OF_PROVIDER, {"provider_id": provider_id}).all())
    return cache[provider_id]


def get(key: str, provider_id: int | None = None):
    """The value of `key` for the provider (default provider when None)."""
    spec = _KEYS[key]
    return _values(_provider_id(provider_id)).get(key, spec.default)


def update(values: dict, provider_id: int | None = None, audit_action: str = "settings_changed") -> dict:
    """Store changed values and audit them as {key: [before, after]}; the caller commits."""
    provider_id = _provider_id(provider_id)
    stored = {
        row.key: row
        for row in db.session.execute(
            select(Setting).where(Setting.provider_id == provider_id, Setting.key.in_(values))
        ).scalars()
    }
    changes = {}
    for key, value in values.items():
        before = stored[key].value if key in stored else _KEYS[key].default
        if before == value:
            continue
        changes[key] = [before, value]
        if key in stored:
            stored[key].value = value
        else:
            db.session.add(Setting(provider_id=provider_id, key=key, value=value))
    if changes:  # on the provider whose settings they are (there may be several)
        log_audit(audit_action, target=db.session.get(Provider, provider_id), changes=changes)
    g.pop("_settings_cache", None)
    return changes
