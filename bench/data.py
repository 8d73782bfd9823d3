"""Data at scale, bulk-inserted into a fresh database: clients, staff, auth log, orders, payments."""

import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from argon2 import PasswordHasher
from sqlalchemy import text, update

from portal.extensions import db
from portal.models import AuthEvent, Client, Order, Payment, ProductType, Provider, Tariff, User

PASSWORD = "bench password 1"
CHUNK = 20_000
EVENTS = ["login", "login_failed", "logout", "session_ended", "register_requested"]


class Scale:
    """How much to generate; the defaults are the issue's full scale."""

    def __init__(self, clients=100_000, staff=1_000, auth_events=1_000_000, orders=200_000,
                 big_client_users=1_000, big_client_events=100_000):
        self.clients = clients
        self.staff = staff
        self.auth_events = auth_events
        self.orders = orders
        self.big_client_users = big_client_users
        self.big_client_events = big_client_events

    @classmethod
    def divided(cls, by: int) -> "Scale":
        full = cls()
        return cls(**{key: max(value // by, 10) for key, value in vars(full).items()})


def password_hash(config) -> str:
    """One hash with the portal's real argon2 parameters, shared by every generated account."""
    return PasswordHasher(time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_COST"],
                          parallelism=config["ARGON2_PARALLELISM"]).hash(PASSWORD)


def bulk_insert(table, rows) -> int:
    """Insert rows (dicts) in chunks: COPY on PostgreSQL, executemany elsewhere."""
    count = 0
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            count += _insert_chunk(table, chunk)
            chunk = []
    if chunk:
        count += _insert_chunk(table, chunk)
    db.session.commit()
    return count


def _insert_chunk(table, chunk: list[dict]) -> int:
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), chunk)
        return len(chunk)
    defaults = _python_defaults(table, chunk[0])
    chunk = [{**defaults, **row} for row in chunk] if defaults else chunk
    columns = list(chunk[0])
    quoted = ", ".join(f'"{name}"' for name in columns)
    cursor = connection.connection.dbapi_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in chunk:
            copy.write_row([row[name] for name in columns])
    return len(chunk)


def _python_defaults(table, row: dict) -> dict:
    """COPY skips SQLAlchemy's column defaults: fill those the rows leave out."""
    values = {}
    for column in table.columns:
        default = column.default
        if column.name in row or default is None:
            continue
        values[column.name] = default.arg(None) if default.is_callable else default.arg
    return values


def generate(config, scale: Scale, log=print) -> dict:
    """Fill an empty schema; returns what the measurements need (logins, ids)."""
    started = time.perf_counter()
    rng = random.Random(8)
    now = datetime.now(UTC)
    hashed = password_hash(config)
    provider = Provider(name="Bench provider", is_default=True)
    product = ProductType(name="Virtual server")
    db.session.add_all([provider, product])
    db.session.flush()
    tariffs = [Tariff(product_type_id=product.id, name=f"VPS {n}", price=Decimal(5 * n)) for n in (1, 2, 4)]
    db.session.add_all(tariffs)
    db.session.commit()

    clients = scale.clients + 1  # the last client is the big one (many users, many log rows)
    bulk_insert(Client.__table__, ({"id": i, "provider_id": provider.id, "name": f"Client {i:06d}",
                                    "is_active": True, "created_at": now} for i in range(1, clients + 1)))
    users = list(_client_users(provider.id, clients, scale, hashed, now))
    user_id = len(users)
    staff_first = user_id + 1
    users += [{"id": staff_first + n, "provider_id": provider.id, "kind": "staff", "client_id": None,
               "login": f"staff{n:04d}", "email": f"staff{n:04d}@staff.example.com",
               "name": f"Staff {n:04d}", "password_hash": hashed, "password_changed_at": now,
               "full_access": n % 10 == 0, "access_denied": False, "is_active_account": True,
               "failed_logins": 0, "created_at": now} for n in range(scale.staff)]
    bulk_insert(User.__table__, users)
    db.session.execute(update(Client).values(owner_id=Client.id).where(Client.id <= scale.clients))
    big_owner = scale.clients + 1
    db.session.execute(update(Client).where(Client.id == clients).values(owner_id=big_owner))
    db.session.commit()
    log(f"  {clients:,} clients, {len(users):,} users ({time.perf_counter() - started:.0f} s)")

    big_users = range(scale.clients + 1, scale.clients + 1 + scale.big_client_users)
    client_users = range(1, scale.clients + 1)

    def events():  # all older than a day: a one-day retention period purges every one of them
        for n in range(scale.auth_events):
            uid = rng.choice(big_users) if n < scale.big_client_events else rng.choice(client_users)
            yield {"id": n + 1, "created_at": now - timedelta(days=1, minutes=n % 500_000 + 1),
                   "event": EVENTS[n % len(EVENTS)], "user_id": uid, "login": f"user{uid}@example.com",
                   "ip": f"198.51.{n % 250}.{n % 200 + 1}", "user_agent": "Mozilla/5.0 (bench)",
                   "detail": None}

    bulk_insert(AuthEvent.__table__, events())
    log(f"  {scale.auth_events:,} auth-log rows ({time.perf_counter() - started:.0f} s)")
    bulk_insert(Order.__table__, ({"id": n + 1, "client_id": n % scale.clients + 1, "user_id": n % scale.clients + 1,
                                   "tariff_id": tariffs[n % 3].id, "status": "active", "price": tariffs[n % 3].price,
                                   "created_at": now - timedelta(hours=n % 20_000)} for n in range(scale.orders)))
    bulk_insert(Payment.__table__, ({"id": n + 1, "client_id": n % scale.clients + 1, "amount": Decimal("10.00"),
                                     "method": "card", "reference": f"P{n:08d}",
                                     "created_at": now - timedelta(hours=n % 20_000)} for n in range(scale.orders)))
    _reset_sequences()
    log(f"  {scale.orders:,} orders and payments ({time.perf_counter() - started:.0f} s)")
    return {"client_login": "user1@example.com", "staff_login": "staff0000", "password": PASSWORD,
            "big_client_id": clients, "staff_ids": (staff_first, staff_first + scale.staff - 1)}


def _client_users(provider_id, clients, scale, hashed, now):
    """One owner per client, then the big client's other users."""
    for i in range(1, scale.clients + scale.big_client_users + 1):
        client_id = i if i <= scale.clients else clients
        yield {"id": i, "provider_id": provider_id, "kind": "client", "client_id": client_id,
               "login": f"user{i}@example.com", "email": f"user{i}@example.com", "name": f"User {i:06d}",
               "password_hash": hashed, "password_changed_at": now, "full_access": False,
               "access_denied": False, "is_active_account": True, "failed_logins": 0, "created_at": now}


def _reset_sequences() -> None:
    """PostgreSQL: explicit ids were given, so move each sequence past them."""
    if db.session.connection().dialect.name != "postgresql":
        return
    for table in (Client, User, AuthEvent, Order, Payment):
        name = table.__table__.name
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), (SELECT max(id) FROM \"{name}\"))"))
    db.session.commit()
