"""Catalog, orders, payments and expenses: what finance pages and fraud checks guard."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Client, User
from portal.models.base import UTCDateTime, folded, utcnow

Money = Numeric(12, 2)


class ProductType(db.Model):
    """A kind of service: Virtual server, Dedicated server, Hosting, Domain."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    needs_phone_verification: Mapped[bool] = mapped_column(Boolean, default=False)

    tariffs: Mapped[list["Tariff"]] = relationship(back_populates="product_type", order_by="Tariff.id")


class Tariff(db.Model):
    """An orderable plan of a product type, with its monthly price."""

    id: Mapped[int] = mapped_column(primary_key=True)
    product_type_id: Mapped[int] = mapped_column(ForeignKey("product_type.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[Decimal] = mapped_column(Money)
    needs_phone_verification: Mapped[bool] = mapped_column(Boolean, default=False)

    product_type: Mapped[ProductType] = relationship(back_populates="tariffs")


class Order(db.Model):
    """A service ordered by a client user."""

    __table_args__ = (Index("ix_order_client_id_created_at", "client_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), nullable=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariff.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    price: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    client: Mapped[Client] = relationship()
    user: Mapped[User | None] = relationship()
    tariff: Mapped[Tariff] = relationship()


class Payment(db.Model):
    """Money received from a client; kept for the legally required period."""

    __table_args__ = (Index("ix_payment_client_id_created_at", "client_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str] = mapped_column(String(40), default="card")
    reference: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    client: Mapped[Client] = relationship()


class Expense(db.Model):
    """A charge against a client's balance (a service period, a fee)."""

    __table_args__ = (Index("ix_expense_client_id_created_at", "client_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    client: Mapped[Client] = relationship()
    order: Mapped[Order | None] = relationship()


# Lists search these by prefix (portal.services.listing.search).
Index("ix_order_folded_status", folded(Order.status))
Index("ix_payment_folded_reference", folded(Payment.reference))
Index("ix_expense_folded_description", folded(Expense.description))
