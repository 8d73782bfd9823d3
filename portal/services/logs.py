"""Reading the audit log and the auth log: filters, search and keyset pages."""

from sqlalchemy import or_, select

from portal.extensions import db
from portal.models import AuditEvent, AuthEvent
from portal.services.listing import Page, contains, keyset


def audit_actions() -> list[str]:
    return list(db.session.execute(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).scalars())


def audit_targets() -> list[str]:
    return list(db.session.execute(
        select(AuditEvent.target_type).where(AuditEvent.target_type.is_not(None))
        .distinct().order_by(AuditEvent.target_type)).scalars())


def list_audit(action: str = "", actor: str = "", target_type: str = "", target_id: int | None = None,
               **cursor) -> Page:
    """Audit events, newest first, filtered by action, actor login and target."""
    stmt = select(AuditEvent)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if actor:
        stmt = stmt.where(contains(AuditEvent.actor_label, actor))
    if target_type:
        stmt = stmt.where(AuditEvent.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditEvent.target_id == target_id)
    return keyset(stmt, AuditEvent.id, **cursor)


def auth_events() -> list[str]:
    return list(db.session.execute(select(AuthEvent.event).distinct().order_by(AuthEvent.event)).scalars())


def list_auth(search: str = "", event: str = "", **cursor) -> Page:
    """Auth-log rows, newest first; `search` matches the login typed, the IP or the detail."""
    stmt = select(AuthEvent)
    if event:
        stmt = stmt.where(AuthEvent.event == event)
    if search:
        stmt = stmt.where(or_(contains(AuthEvent.login, search), contains(AuthEvent.ip, search),
                              contains(AuthEvent.detail, search)))
    return keyset(stmt, AuthEvent.id, **cursor)
