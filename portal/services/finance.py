"""Clients, balances, payments, expenses, orders and monthly reports, read for the finance pages."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Client, Expense, Order, Payment, Tariff, User
from portal.models.base import utcnow
from portal.services import listing
from portal.services.listing import Field, Page, keyset, parse_id, period, period_label

ZERO = Decimal("0.00")


@dataclass
class Balance:
    paid: Decimal
    spent: Decimal

    @property
    def amount(self) -> Decimal:
        return self.paid - self.spent


def _totals(model, client_ids: list[int]) -> dict[int, Decimal]:
    if not client_ids:
        return {}
    return dict(db.session.execute(
        select(model.client_id, func.sum(model.amount)).where(model.client_id.in_(client_ids))
        .group_by(model.client_id)).all())


def balances(client_ids: list[int]) -> dict[int, Balance]:
    """Paid, spent and balance of each client, summed only for the clients asked about."""
    paid, spent = _totals(Payment, client_ids), _totals(Expense, client_ids)
    return {cid: Balance(paid.get(cid) or ZERO, spent.get(cid) or ZERO) for cid in client_ids}


def list_clients(search: str = "", by_owner_email: bool = True, **cursor) -> Page:
    """Clients with their owner, searchable by client name, and by owner email where the page
    shows it (a search answers for what it matched, so it must not probe a hidden column)."""
    stmt = select(Client, User).outerjoin(User, Client.owner_id == User.id)
    if search:
        fields = [Field(Client.name, select(Client.id))]
        if by_owner_email:
            fields.append(Field(User.email, select(Client.id).join(User, Client.owner_id == User.id)))
        return listing.search(stmt, Client.id, fields, search, **cursor)
    return keyset(stmt, Client.id, **cursor)


def get_client(client_id: int) -> Client | None:
    return db.session.get(Client, client_id)


def list_payments(search: str = "", client_id: int | None = None, **cursor) -> Page:
    stmt = select(Payment, Client).join(Client, Payment.client_id == Client.id)
    if client_id is not None:
        stmt = stmt.where(Payment.client_id == client_id)
    if search:
        fields = [_client_name(Payment), Field(Payment.reference, select(Payment.id))]
        return listing.search(stmt, Payment.id, fields, search, **cursor)
    return keyset(stmt, Payment.id, **cursor)


def list_expenses(search: str = "", client_id: int | None = None, **cursor) -> Page:
    stmt = select(Expense, Client).join(Client, Expense.client_id == Client.id)
    if client_id is not None:
        stmt = stmt.where(Expense.client_id == client_id)
    if search:
        fields = [_client_name(Expense), Field(Expense.description, select(Expense.id))]
        return listing.search(stmt, Expense.id, fields, search, **cursor)
    return keyset(stmt, Expense.id, **cursor)


def list_orders(search: str = "", client_id: int | None = None, **cursor) -> Page:
    stmt = (select(Order, Client, Tariff).join(Client, Order.client_id == Client.id)
            .join(Tariff, Order.tariff_id == Tariff.id))
    if client_id is not None:
        stmt = stmt.where(Order.client_id == client_id)
    if search:
        fields = [_client_name(Order), Field(Order.status, select(Order.id)),
                  Field(Tariff.name, select(Order.id).join(Tariff, Order.tariff_id == Tariff.id))]
        number = parse_id(search.removeprefix("#"))  # "#67" or "67", as the client quotes it
        return listing.search(stmt, Order.id, fields, search, also=(number,) if number else (), **cursor)
    return keyset(stmt, Order.id, **cursor)


def _client_name(model) -> Field:
    """The client's name, searched in a list of `model` rows (payments, expenses, orders)."""
    return Field(Client.name, select(model.id).join(Client, model.client_id == Client.id))


@dataclass
class MonthTotals:
    month: str
    payments: Decimal
    expenses: Decimal
    orders: int


def monthly_report(months: int = 12) -> list[MonthTotals]:
    """Totals by month (UTC) over the last `months` months, newest first."""
    since = (utcnow() - timedelta(days=31 * months)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    def per_month(column, model):
        month = period(model.created_at, "month")
        rows = db.session.execute(select(month, column).where(model.created_at >= since).group_by(month))
        return {period_label(value, "month"): total for value, total in rows}

    paid = per_month(func.sum(Payment.amount), Payment)
    spent = per_month(func.sum(Expense.amount), Expense)
    ordered = per_month(func.count(Order.id), Order)
    return [MonthTotals(m, paid.get(m) or ZERO, spent.get(m) or ZERO, ordered.get(m) or 0)
            for m in sorted(set(paid) | set(spent) | set(ordered), reverse=True)[:months]]
