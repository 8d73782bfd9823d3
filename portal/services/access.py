"""Administrators and access groups: changed only within the rights the acting administrator holds."""

from dataclasses import dataclass, field

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import User, UserKind
from portal.models.access import AccessGroup, GroupFunction, UserFunction, user_access_group
from portal.services import identifiers, listing, reauth, sessions
from portal.services.errors import DomainError
from portal.services.events import log_audit
from portal.services.identifiers import AccountExists, IdentifierRefused
from portal.services.listing import Field, Page, keyset
from portal.services.permissions import (
    GRANTABLE,
    GrantRefused,
    assigned_functions_of,
    check_grantable,
    forget,
    functions_of,
)
from portal.services.staff import create_staff


class AccessError(DomainError):
    """A change to access that is not allowed; `field` names the form field it concerns."""


@dataclass
class AdminInput:
    """What the administrator form submits."""

    login: str
    email: str
    name: str = ""
    full_access: bool = False
    group_ids: list[int] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)


def list_admins(search: str = "", **cursor) -> Page:
    stmt = select(User).where(User.kind == UserKind.STAFF)
    if search:
        fields = [Field(column, select(User.id)) for column in (User.login, User.name, User.email)]
        return listing.search(stmt, User.id, fields, search, **cursor)
    return keyset(stmt, User.id, **cursor)


def get_admin(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_staff else None


def group_names_of(user: User) -> list[str]:
    return sorted(db.session.execute(
        select(AccessGroup.name).join(user_access_group, user_access_group.c.group_id == AccessGroup.id)
        .where(user_access_group.c.user_id == user.id)).scalars())


def set_groups(user: User, group_ids: set[int]) -> None:
    """Make the user's access groups exactly these (Keycloak role mapping)."""
    db.session.execute(user_access_group.delete().where(user_access_group.c.user_id == user.id))
    if group_ids:
        db.session.execute(user_access_group.insert(),
                           [{"user_id": user.id, "group_id": group_id} for group_id in sorted(group_ids)])
    db.session.flush()
    forget(user)


def groups() -> list[AccessGroup]:
    return list(db.session.execute(select(AccessGroup).order_by(AccessGroup.name)).scalars())


def group_ids_of(user: User) -> list[int]:
    return list(db.session.execute(
        select(user_access_group.c.group_id).where(user_access_group.c.user_id == user.id)).scalars())


def own_functions(user: User) -> list[str]:
    return sorted(db.session.execute(
        select(UserFunction.code).where(UserFunction.user_id == user.id)).scalars())


def can_manage(actor: User, target: User) -> bool:
    """Nobody changes someone who holds more than they do."""
    return target.id in manageable(actor, [target])


def manageable(actor: User, targets: list[User]) -> set[int]:
    """The ids of the `targets` the actor may change (`can_manage`), for a whole page in one query."""
    if actor.full_access:
        return {target.id for target in targets}
    held = functions_of(actor)
    candidates = [target for target in targets if not target.full_access]
    return {user_id for user_id, functions in assigned_functions_of(candidates).items() if functions <= held}


def _require_manageable(actor: User, target: User) -> None:
    if not can_manage(actor, target):
        raise AccessError("You cannot change an administrator who holds functions you do not hold.")


def _is_last_full_access(target: User) -> bool:
    if not (target.full_access and target.can_sign_in):
        return False
    holders = db.session.execute(
        select(User.id).where(User.kind == UserKind.STAFF, User.full_access.is_(True),
                              User.access_denied.is_(False), User.is_active_account.is_(True))
        .with_for_update()
    ).scalars().all()
    return set(holders) <= {target.id}


def set_access_denied(actor: User, target: User, denied: bool) -> None:
    """Deny (ending every session, remember cookie and API token at once) or restore access."""
    _require_manageable(actor, target)
    if target.id == actor.id:
        raise AccessError("You cannot deny your own access.")
    if denied and _is_last_full_access(target):
        raise AccessError("This is the last administrator with Full access.")
    if target.access_denied == denied:
        return
    target.access_denied = denied
    if denied:
        sessions.revoke_everything([target.id])
    forget(target)
    log_audit("access_denied" if denied else "access_restored", target=target,
              changes={"access_denied": [not denied, denied]})


def _snapshot(user: User) -> dict:
    names = {g.id: g.name for g in groups()}
    return {"login": user.login, "email": user.email, "name": user.name, "full_access": user.full_access,
            "groups": sorted(names[i] for i in group_ids_of(user)), "functions": own_functions(user)}


def _check_grants(actor: User, data: AdminInput, target: User | None) -> list[AccessGroup]:
    if data.full_access and not actor.full_access:
        raise AccessError("Only an administrator with Full access can grant Full access.", "full_access")
    chosen = [group for group in groups() if group.id in set(data.group_ids)]
    try:
        check_grantable(actor, "staff", set(data.functions).union(*(group.codes for group in chosen)))
    except GrantRefused as refused:
        raise AccessError(refused.message, "functions") from refused
    if target is not None and target.full_access and not data.full_access and _is_last_full_access(target):
        raise AccessError("This is the last administrator with Full access.", "full_access")
    return chosen


def _apply(user: User, data: AdminInput, chosen: list[AccessGroup]) -> None:
    user.full_access = data.full_access
    db.session.execute(user_access_group.delete().where(user_access_group.c.user_id == user.id))
    if chosen:
        db.session.execute(user_access_group.insert(),
                           [{"user_id": user.id, "group_id": g.id} for g in chosen])
    db.session.query(UserFunction).filter(UserFunction.user_id == user.id).delete()
    db.session.add_all(UserFunction(user_id=user.id, code=code) for code in sorted(set(data.functions)))
    db.session.flush()
    forget(user)


def create_admin(actor: User, data: AdminInput, actor_password: str) -> User:
    """A new administrator without a password (they set one from the emailed link). The actor's
    own password is asked: a stolen session must not give its thief an account of their own."""
    chosen = _check_grants(actor, data, None)
    _check_identifiers(data.login.strip(), identifiers.fold(data.email), None)
    reauth.check_current_password(actor, actor_password, "password_check_failed", "add administrator")
    try:
        user = create_staff(data.login, data.email, data.name, full_access=data.full_access)
    except (AccountExists, IdentifierRefused) as error:
        raise AccessError(error.message, error.field) from error
    _apply(user, data, chosen)
    audit_created(user)
    return user


def audit_created(user: User, actor_label: str | None = None) -> None:
    """The audit row of a new administrator, whichever way they came (list, CLI, Keycloak)."""
    log_audit("admin_created", target=user, actor_label=actor_label,
              changes={key: [None, value] for key, value in _snapshot(user).items()})


def _check_identifiers(login: str, email: str, target: User | None) -> None:
    """Refuse a login or email that breaks the rules or is taken (before the password is asked:
    a clash is told at once)."""
    try:
        if target is None or login != target.login:  # a login from before logins were ASCII may stay
            identifiers.check_staff_identifiers(login, email)
        identifiers.claim(login=login, email=email, except_user_id=None if target is None else target.id)
    except (AccountExists, IdentifierRefused) as error:
        raise AccessError(error.message, error.field) from error


def update_admin(actor: User, target: User, data: AdminInput, actor_password: str) -> dict:
    """Change an administrator; returns the audited changes. A new email address, which takes
    the account's recovery with it, needs the actor's own password (a session alone must not
    move recovery); one's own address changes only in General settings."""
    _require_manageable(actor, target)
    chosen = _check_grants(actor, data, target)
    login, email = data.login.strip(), identifiers.fold(data.email)
    if target.id == actor.id and email != target.email:
        raise AccessError("Change your own email address in General settings: it needs your password "
                          "and a link to the new address.", "email")
    _check_identifiers(login, email, target)
    if email != target.email:
        reauth.check_current_password(actor, actor_password, "password_check_failed", "change administrator email")
        sessions.drop_links_in_flight([target.id])  # an invite sent to a mistyped address dies
    before = _snapshot(target)
    target.login, target.email, target.name = login, email, data.name.strip() or login
    _apply(target, data, chosen)
    after = _snapshot(target)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        log_audit("admin_changed", target=target, changes=changes)
    return changes


def member_counts() -> dict[int, int]:
    return dict(db.session.execute(
        select(user_access_group.c.group_id, func.count()).group_by(user_access_group.c.group_id)).all())


def _members(group: AccessGroup) -> list[User]:
    return list(db.session.execute(select(User).join(user_access_group, user_access_group.c.user_id == User.id)
                                   .where(user_access_group.c.group_id == group.id)).scalars())


def save_group(actor: User, group: AccessGroup | None, name: str, description: str,
               codes: list[str]) -> AccessGroup:
    """Create or change an access group; its functions must all be ones the actor holds."""
    if group is not None and not actor.full_access and not group.codes <= functions_of(actor):
        raise AccessError("You cannot change a group that holds functions you do not hold.")
    if group is not None and not actor.full_access:
        members = _members(group)
        if len(manageable(actor, members)) < len(members):
            raise AccessError("Members of this group hold functions you do not hold: only an administrator "
                              "with Full access can change it.")
    try:
        check_grantable(actor, "staff", codes)
    except GrantRefused as refused:
        raise AccessError(refused.message, "functions") from refused
    name = name.strip()
    clash = db.session.execute(select(AccessGroup.id).where(
        func.lower(AccessGroup.name) == name.lower(),
        AccessGroup.id != (group.id if group is not None else -1))).first()
    if clash:
        raise AccessError("A group with this name already exists.", "name")
    before = None if group is None else {"name": group.name, "description": group.description,
                                         "functions": sorted(group.codes)}
    if group is None:
        group = AccessGroup(name=name)
        db.session.add(group)
    group.name, group.description = name, description.strip()
    wanted = [c for c in GRANTABLE["staff"] if c in set(codes)]
    group.grants = [g for g in group.grants if g.code in wanted] + [
        GroupFunction(code=c) for c in wanted if c not in group.codes]
    db.session.flush()
    after = {"name": group.name, "description": group.description, "functions": sorted(group.codes)}
    if before is None:
        log_audit("group_created", target=group, changes={k: [None, v] for k, v in after.items()})
    elif before != after:
        log_audit("group_changed", target=group,
                  changes={k: [before[k], after[k]] for k in after if before[k] != after[k]})
    return group


SEEDED_GROUPS = {
    "Finance": ("Balances, payments, expenses and reports.",
                ["clients.view", "finance.balance", "finance.payments", "finance.expenses",
                 "finance.reports", "orders.view"]),
    "Technical support": ("Clients, users and their sign-in trouble.",
                          ["clients.view", "users.view", "users.rights", "users.unlock", "orders.view", "logs.auth"]),
    "Sales": ("Clients and their orders.", ["clients.view", "orders.view", "finance.reports"]),
}


def seed_groups() -> dict[str, AccessGroup]:
    """Create the standard access groups that are missing (idempotent); returns all of them by name."""
    existing = {group.name: group for group in groups()}
    for name, (description, codes) in SEEDED_GROUPS.items():
        if name not in existing:
            group = AccessGroup(name=name, description=description)
            group.grants = [GroupFunction(code=code) for code in codes]
            db.session.add(group)
            existing[name] = group
    db.session.flush()
    return existing
