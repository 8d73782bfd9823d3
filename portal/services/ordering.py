"""Placing orders: the one path for the order form and the API."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Order, ProductType, Tariff, User
from portal.services import fraud, listing
from portal.services.errors import DomainError


class OrderRefused(DomainError):
    """An order that may not be placed; `code` is stable for API clients."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def get_tariff(tariff_id: int) -> Tariff | None:
    return db.session.get(Tariff, tariff_id)


def place_order(user: User, tariff: Tariff) -> Order:
    """Store a new order for the user's client; raises OrderRefused. The caller commits."""
    if user.client_id is None:
        raise OrderRefused("not_a_client", "Only client users can order services.")
    if fraud.order_blocked(user, tariff):
        raise OrderRefused("phone_verification_required",
                           "This service needs a verified phone number. Verify your phone number, then order.")
    order = Order(client_id=user.client_id, user_id=user.id, tariff_id=tariff.id,
                  status="new", price=tariff.price)
    db.session.add(order)
    db.session.flush()
    return order


def _orders_of(client_id: int):
    """The client's orders with their tariff and service, newest first (one query, no lazy loads)."""
    return (select(Order, Tariff, ProductType).join(Tariff, Order.tariff_id == Tariff.id)
            .join(ProductType, Tariff.product_type_id == ProductType.id).where(Order.client_id == client_id))


def orders_page(client_id: int, before: int | None = None, after: int | None = None) -> listing.Page:
    """The client's Orders page, a keyset page at a time: rows of (order, tariff, service)."""
    return listing.keyset(_orders_of(client_id), Order.id, before, after)


def orders_of_client(client_id: int, limit: int, offset: int) -> list[Order]:
    """The API's documented limit/offset paging (a client's own orders: offsets stay small)."""
    rows = db.session.execute(_orders_of(client_id).order_by(Order.id.desc()).limit(limit).offset(offset))
    return [order for order, _tariff, _service in rows]
