"""Which ways in each provider offers: switches per provider, and the check every method's route makes."""

from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import AccessGroup, KeycloakRoleMapping, Provider, User
from portal.services import settings
from portal.services.errors import DomainError
from portal.services.events import log_audit
from portal.services.permissions import GrantRefused, check_grantable


@dataclass(frozen=True)
class Method:
    """A way in: its switch, its label, and what it needs configured or shares with a third party."""

    name: str
    label: str
    default: bool
    config_keys: tuple = ()  # all must be set in the configuration for the method to work
    third_party: str | None = None  # who receives data when it is used


METHODS = [
    Method("web_login", "Web login (login and password)", True),
    Method("temp_key", "Temporary key (issued by root on the server)", True),
    Method("sms_2fa", "Phone verification / SMS two-factor", True, third_party="Vonage (when SMS_BACKEND is vonage)"),
    Method("totp", "TOTP two-factor (authenticator app)", True),
    Method("google", "Google OAuth (clients)", False, ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"), "Google"),
    Method("keycloak", "Keycloak SSO (staff)", False,
           ("KEYCLOAK_CLIENT_ID", "KEYCLOAK_CLIENT_SECRET", "KEYCLOAK_SERVER_METADATA_URL"), "your Keycloak server"),
    Method("api", "API authentication (tokens)", True),
    Method("api_authinfo", "API authinfo (login:password)", True),
]
BY_NAME = {method.name: method for method in METHODS}
STAFF_2FA_REQUIRED = settings.define("security.staff_2fa_required", True,
                                     "Staff must use two-factor authentication")
for _method in METHODS:
    settings.define(f"methods.{_method.name}", _method.default, _method.label)


class MethodsRefused(DomainError):
    """A refused change: one that would leave the provider without a way in, or a role mapping
    granting what its author could not grant."""


def configured(name: str) -> bool:
    return all(current_app.config.get(key) for key in BY_NAME[name].config_keys)


def switched_on(name: str, provider_id: int | None = None) -> bool:
    return bool(settings.get(f"methods.{name}", provider_id))


def enabled(name: str, provider_id: int | None = None) -> bool:
    """On for the provider (the default one when None) and configured."""
    return switched_on(name, provider_id) and configured(name)


def requires_method(name: str):
    """A route of a method that is off (for the user's provider, else the default one) answers 404."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            provider_id = current_user.provider_id if current_user.is_authenticated else None
            if not enabled(name, provider_id):
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def get_provider(provider_id: int) -> Provider | None:
    return db.session.get(Provider, provider_id)


def current_values(provider_id: int) -> dict:
    values = {method.name: switched_on(method.name, provider_id) for method in METHODS}
    values["staff_2fa_required"] = bool(settings.get(STAFF_2FA_REQUIRED, provider_id))
    return values


def save_switches(provider_id: int, values: dict) -> dict:
    """Store the switches (audited); refuses to shut staff or clients out, or to require staff
    two-factor nobody can enrol. The caller commits."""
    if not values["web_login"]:  # each area needs a way in that works: switched on and configured
        if not (values["keycloak"] and configured("keycloak")):
            raise MethodsRefused("Keep web login on: staff would have no way in (Keycloak SSO is off or not configured).")
        if not (values["google"] and configured("google")):
            raise MethodsRefused("Keep web login on: clients would have no way in (Google OAuth is off or not configured).")
    if values["staff_2fa_required"] and not values["totp"]:
        raise MethodsRefused("Staff two-factor needs TOTP switched on: staff enrol an authenticator app "
                             "(they have no verified phone for SMS codes).")
    stored = {f"methods.{m.name}": bool(values[m.name]) for m in METHODS}
    stored[STAFF_2FA_REQUIRED] = bool(values["staff_2fa_required"])
    return settings.update(stored, provider_id, audit_action="auth_methods_changed")


def role_mappings(provider_id: int) -> list[KeycloakRoleMapping]:
    return list(db.session.execute(
        select(KeycloakRoleMapping).where(KeycloakRoleMapping.provider_id == provider_id)
        .options(joinedload(KeycloakRoleMapping.access_group)).order_by(KeycloakRoleMapping.role)).scalars())


def _require_grantable(actor: User, full_access: bool, group: AccessGroup | None) -> None:
    """A mapping hands its grant to whoever holds the role, the actor included: only what the actor
    could grant an administrator directly (access._check_grants)."""
    if full_access and not actor.full_access:
        raise MethodsRefused("Only an administrator with Full access can map a role to Full access.", "full_access")
    if group is not None:
        try:
            check_grantable(actor, "staff", group.codes)
        except GrantRefused as refused:
            raise MethodsRefused(refused.message) from refused


def add_role_mapping(provider_id: int, role: str, full_access: bool, group_id: int | None, actor: User):
    """Map a Keycloak role to Full access or an access group; one row per role. The caller commits."""
    role = role.strip()
    if not full_access and group_id is None:
        raise MethodsRefused("Choose Full access or an access group.")
    group = None if full_access else db.session.get(AccessGroup, group_id)
    if not full_access and group is None:
        raise MethodsRefused("This access group no longer exists.")
    _require_grantable(actor, full_access, group)
    existing = db.session.execute(select(KeycloakRoleMapping).where(
        KeycloakRoleMapping.provider_id == provider_id, KeycloakRoleMapping.role == role)).scalar_one_or_none()
    if existing is not None:
        raise MethodsRefused("This role is mapped already; remove it first.", "role")
    row = KeycloakRoleMapping(provider_id=provider_id, role=role, full_access=full_access, access_group=group)
    db.session.add(row)
    db.session.flush()
    log_audit("keycloak_role_mapped", target=row,
              changes={"role": [None, role], "grants": [None, "Full access" if full_access else group.name]})
    return row


def remove_role_mapping(provider_id: int, mapping_id: int, actor: User) -> bool:
    """Remove a mapping the actor could have made (MethodsRefused otherwise); False if there is none."""
    row = db.session.get(KeycloakRoleMapping, mapping_id)
    if row is None or row.provider_id != provider_id:
        return False
    _require_grantable(actor, row.full_access, row.access_group)
    log_audit("keycloak_role_unmapped", target=row, changes={"role": [row.role, None]})
    db.session.delete(row)
    return True

from portal.services import methods_personal_data  # noqa: E402,F401  (registers this area's personal data)
