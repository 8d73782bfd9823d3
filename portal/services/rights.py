"""Client users' Rights: chosen by staff with the function, or by the client's owner for their users."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Client, User, UserKind
from portal.models.access import UserFunction
from portal.services import listing
from portal.services.access import AccessError, can_manage
from portal.services.events import log_audit
from portal.services.listing import Field, Page, keyset
from portal.services.permissions import (
    GRANTABLE,
    GrantRefused,
    check_grantable,
    forget,
    has_function,
)


def list_client_users(search: str = "", client_id: int | None = None, **cursor) -> Page:
    """Client users (of one client when `client_id` is given), with their client."""
    stmt = select(User, Client).join(Client, User.client_id == Client.id).where(User.kind == UserKind.CLIENT)
    if client_id is not None:
        stmt = stmt.where(User.client_id == client_id)
    if search:
        fields = [Field(User.email, select(User.id)), Field(User.name, select(User.id)),
                  Field(Client.name, select(User.id).join(Client, User.client_id == Client.id))]
        return listing.search(stmt, User.id, fields, search, **cursor)
    return keyset(stmt, User.id, **cursor)


def client_user_for(actor: User, user_id: int) -> User | None:
    """The client user `user_id` as `actor` may see them: staff see all, a client user only their own client's."""
    user = db.session.get(User, user_id)
    if user is None or user.is_staff:
        return None
    if not actor.is_staff and user.client_id != actor.client_id:
        return None
    return user


def shown_as(actor: User, user: User) -> str:
    """How a client user is named to `actor`: by email, or by number to staff without "View users"
    (editing rights or unlocking does not open a client user's personal data)."""
    if actor.is_staff and not has_function(actor, "users.view"):
        return f"User #{user.id}"
    return user.email


def rights_of(user: User) -> list[str]:
    return sorted(db.session.execute(select(UserFunction.code).where(
        UserFunction.user_id == user.id, UserFunction.code.in_(GRANTABLE["client"]))).scalars())


def set_rights(actor: User, target: User, codes: list[str]) -> dict:
    """Replace the target's Rights; returns the audited change (empty when nothing changed)."""
    if target.is_client_owner:
        raise AccessError("The owner of a client holds every right.")
    if target.id == actor.id:
        raise AccessError("You cannot change your own rights.")
    if not actor.is_staff and not can_manage(actor, target):
        raise AccessError("You cannot change a user who holds rights you do not hold.")
    try:
        check_grantable(actor, "client", codes)
    except GrantRefused as refused:
        raise AccessError(refused.message, "rights") from refused
    before, after = rights_of(target), sorted(set(codes))
    if before == after:
        return {}
    db.session.query(UserFunction).filter(
        UserFunction.user_id == target.id, UserFunction.code.in_(GRANTABLE["client"])).delete()
    db.session.add_all(UserFunction(user_id=target.id, code=code) for code in after)
    db.session.flush()
    forget(target)
    changes = {"rights": [before, after]}
    log_audit("rights_changed", target=target, changes=changes)
    return changes
