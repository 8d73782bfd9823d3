"""Download my data (GDPR Art. 15 and 20): what the portal holds about a user, as one JSON file."""

import json
import re
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AuthEvent,
    Client,
    Expense,
    Order,
    Payment,
    PendingEmailChange,
    Tariff,
    User,
    UserSession,
)
from portal.models.base import utcnow
from portal.models.compliance import ConsentDocument, ConsentRecord, ConsentVersion
from portal.services.events import log_auth
from portal.services.permissions import has_function
from portal.services.personal_data import NotExported, registered


def plain(value):
    """A column's value as JSON holds it: times in ISO 8601 (UTC), money as a decimal string."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def rows(statement) -> list[dict]:
    """The rows of a SELECT of columns, each as {column: value}, ready for JSON."""
    return [{key: plain(value) for key, value in row._mapping.items()}
            for row in db.session.execute(statement)]


def user_rows(model, user: User, *columns: str) -> list[dict]:
    """The user's rows of `model`, oldest first, with only the named columns (never a hash or secret)."""
    return rows(select(*(getattr(model, column) for column in columns))
                .where(model.user_id == user.id).order_by(model.id))


def account(user: User) -> dict:
    return rows(select(User.login, User.email, User.name, User.kind, User.phone, User.phone_verified_at,
                       User.password_changed_at, User.created_at).where(User.id == user.id))[0]


def client_of(user: User) -> dict | None:
    if user.client_id is None:
        return None
    return rows(select(Client.name, Client.created_at).where(Client.id == user.client_id))[0]


def billing_of(user: User) -> dict | None:
    """The client's orders and money, as far as the user's rights show them in the client area
    (Orders: "Order services"; Finance: "View finance"; a client's owner holds both)."""
    if user.client_id is None:
        return None
    billing = {}
    if has_function(user, "client.order"):
        billing["orders"] = rows(
            select(Order.id, Tariff.name.label("tariff"), Order.status, Order.price, Order.created_at)
            .join(Tariff, Order.tariff_id == Tariff.id).where(Order.client_id == user.client_id)
            .order_by(Order.id))
    if has_function(user, "client.finance"):
        billing["payments"] = rows(
            select(Payment.id, Payment.amount, Payment.method, Payment.reference, Payment.created_at)
            .where(Payment.client_id == user.client_id).order_by(Payment.id))
        billing["expenses"] = rows(
            select(Expense.id, Expense.amount, Expense.description, Expense.order_id, Expense.created_at)
            .where(Expense.client_id == user.client_id).order_by(Expense.id))
    return billing


def sessions_of(user: User) -> list[dict]:
    return user_rows(UserSession, user, "created_at", "last_seen_at", "ip", "user_agent", "remember",
                     "revoked_at")


def auth_events_of(user: User) -> list[dict]:
    return user_rows(AuthEvent, user, "created_at", "event", "ip", "user_agent", "detail")


def pending_email_change_of(user: User) -> list[dict]:
    return user_rows(PendingEmailChange, user, "email", "created_at", "expires_at")


def consents_of(user: User) -> list[dict]:
    return rows(
        select(ConsentDocument.title.label("document"), ConsentVersion.number.label("version"),
               ConsentRecord.decision, ConsentRecord.created_at, ConsentRecord.ip)
        .join(ConsentVersion, ConsentRecord.version_id == ConsentVersion.id)
        .join(ConsentDocument, ConsentVersion.document_id == ConsentDocument.id)
        .where(ConsentRecord.user_id == user.id).order_by(ConsentRecord.id))


def document(user: User) -> dict:
    """Every registered table's export for the user, and why the others hand nothing over."""
    exported, not_included = {}, {}
    for entry in registered():
        if isinstance(entry.export, NotExported):
            not_included[entry.name] = entry.export.reason
        else:
            exported[entry.name] = entry.export(user)
    return {"exported_at": plain(utcnow()), "data": exported, "not_included": not_included}


def file_name(user: User) -> str:
    """portal-data-<login, in safe characters>-<YYYY-MM-DD>.json"""
    login = re.sub(r"[^A-Za-z0-9._-]+", "-", user.login).strip("-.")[:60] or "account"
    return f"portal-data-{login}-{utcnow():%Y-%m-%d}.json"


def download(user: User) -> tuple[str, str]:
    """The user's export as (file name, JSON text); logs `data_exported` (no data in it) and commits."""
    text = json.dumps(document(user), indent=2, ensure_ascii=False)
    log_auth("data_exported", user=user)
    db.session.commit()
    return file_name(user), text
