"""Writing the auth log and the audit log (never a password, code, key or token)."""

from flask import has_request_context, request
from flask_login import current_user
from werkzeug.local import LocalProxy

from portal.extensions import db
from portal.models import AuditEvent, AuthEvent
from portal.services.client_ip import client_ip


def request_facts() -> tuple[str | None, str | None]:
    """The client IP and user agent of the current request, for a row written after it ends."""
    if not has_request_context():
        return None, None
    return client_ip(), (request.user_agent.string or "")[:300]


def log_auth(event: str, user=None, login: str | None = None, detail: str | None = None,
             facts: tuple[str | None, str | None] | None = None) -> AuthEvent:
    """Add an auth-log row to the session (committed with the caller's work); `facts` are the
    request's (`request_facts()`) when it is written in the background."""
    ip, agent = facts or request_facts()
    row = AuthEvent(
        event=event,
        user_id=user.id if user is not None else None,
        login=(login or (user.login if user is not None else None)),
        ip=ip,
        user_agent=agent,
        detail=detail,
    )
    db.session.add(row)
    return row


def log_audit(action: str, target=None, changes: dict | None = None, actor=None,
              actor_label: str | None = None) -> AuditEvent:
    """Add an audit-log row; the actor defaults to the signed-in user."""
    ip, _agent = request_facts()
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user._get_current_object()
    if isinstance(target, LocalProxy):  # current_user: name the account, not the proxy
        target = target._get_current_object()
    row = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label or (actor.login if actor is not None else "system"),
        target_type=type(target).__name__.lower() if target is not None else None,
        target_id=getattr(target, "id", None),
        ip=ip,
        changes=changes or {},
    )
    db.session.add(row)
    return row
