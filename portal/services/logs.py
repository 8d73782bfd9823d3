"""Reading the audit log and the auth log: filters, search and keyset pages."""

from sqlalchemy import select

from portal.models import AuditEvent, AuthEvent, User
from portal.services import listing
from portal.services.listing import Field, Page, distinct_values, keyset


def audit_actions() -> list[str]:
    return distinct_values(AuditEvent.action)


def audit_targets() -> list[str]:
    return distinct_values(AuditEvent.target_type)


def list_audit(action: str = "", actor: str = "", target_type: str = "", target_id: int | None = None,
               **cursor) -> Page:
    """Audit events, newest first, filtered by action, actor login and target."""
    stmt = select(AuditEvent)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if target_type:
        stmt = stmt.where(AuditEvent.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditEvent.target_id == target_id)
    if actor:
        by_actor = Field(AuditEvent.actor_label, select(AuditEvent.id))
        return listing.search(stmt, AuditEvent.id, [by_actor], actor, **cursor)
    return keyset(stmt, AuditEvent.id, **cursor)


def auth_events() -> list[str]:
    return distinct_values(AuthEvent.event)


IP_CHARACTERS = r"[0-9a-f.:*]+"  # what can start an IPv4 or IPv6 address (and the wildcard)


def list_auth(search: str = "", event: str = "", **cursor) -> Page:
    """Auth-log rows, newest first. `search` matches the start of the account's login or email
    (through the user table's indexes), or of the login typed where no account was found, or of
    the IP (neither indexed: see AuthEvent; a rare one scans the log once)."""
    stmt = select(AuthEvent)
    if event:
        stmt = stmt.where(AuthEvent.event == event)
    if not search:
        return keyset(stmt, AuthEvent.id, **cursor)
    events = select(AuthEvent.id)
    account = (User, AuthEvent.user_id == User.id)
    fields = [Field(User.login, events.join(*account), join=account),
              Field(User.email, events.join(*account), join=account),
              Field(AuthEvent.login, events, only=AuthEvent.user_id.is_(None)),
              Field(AuthEvent.ip, None, accepts=IP_CHARACTERS)]
    return listing.search(stmt, AuthEvent.id, fields, search, **cursor)
