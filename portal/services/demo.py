"""Demo data for `flask seed-demo`: idempotent, prints logins and one-time passwords."""

import secrets
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.models import Expense, Order, Payment, ProductType, Tariff, User
from portal.models.access import user_access_group
from portal.models.base import utcnow
from portal.services import consent, fraud, passwords, settings
from portal.services.access import seed_groups
from portal.services.registration import create_client_user, default_provider
from portal.services.staff import create_staff

# Staff who work in one department: login -> (name, access group).
DEPARTMENT_STAFF = {"finance": ("Demo finance officer", "Finance"),
                    "support": ("Demo support engineer", "Technical support")}
# More clients with a history, so lists, balances and reports have something to show.
MORE_CLIENTS = ["Acme Hosting", "Blue Lake Studio", "Northwind Traders", "Orbit Labs", "Quartz Media"]

CATALOG = {
    "Virtual server": [("VPS Start", "5.00"), ("VPS Pro", "20.00")],
    "Dedicated server": [("Dedicated E3", "90.00"), ("Dedicated Gold", "180.00")],
    "Hosting": [("Hosting Lite", "3.00"), ("Hosting Business", "9.00")],
    "Domain": [(".com registration", "12.00")],
}
# Ordering these needs a verified phone number (Fraud protection), so the demo shows the banner.
NEED_A_VERIFIED_PHONE = {"Dedicated server"}


def _new_password() -> str:
    return secrets.token_urlsafe(12)


def seed_demo() -> list[tuple[str, str]]:
    """Create what is missing; returns (login, password) for each account created now."""
    created: list[tuple[str, str]] = []
    billed: list[tuple[User, int, int]] = []  # (owner, months, seed) of the clients made now
    default_provider()
    if _seed_catalog():
        settings.update({fraud.ENABLED: True})
    if _user("admin") is None:
        password = _new_password()
        create_staff("admin", "admin@example.com", "Demo administrator", password, full_access=True)
        created.append(("admin", password))
    if _user("owner@example.com") is None:
        password = _new_password()
        owner = create_client_user("owner@example.com", "Demo Owner",
                                   password_hash=passwords.hash_password(password))
        owner.client.name = "Demo Company"
        created.append(("owner@example.com", password))
        password = _new_password()
        create_client_user("colleague@example.com", "Demo Colleague",
                           password_hash=passwords.hash_password(password), client=owner.client)
        created.append(("colleague@example.com", password))
        billed.append((owner, 6, 0))
    groups = seed_groups()
    for login, (name, group_name) in DEPARTMENT_STAFF.items():
        if _user(login) is None:
            password = _new_password()
            user = create_staff(login, f"{login}@example.com", name, password)
            db.session.execute(user_access_group.insert().values(user_id=user.id, group_id=groups[group_name].id))
            created.append((login, password))
    for number, client_name in enumerate(MORE_CLIENTS, start=1):
        email = f"client{number}@example.com"
        if _user(email) is None:
            password = _new_password()
            owner = create_client_user(email, f"{client_name} owner",
                                       password_hash=passwords.hash_password(password))
            owner.client.name = client_name
            created.append((email, password))
            billed.append((owner, 12, number))
    _seed_billing(billed)
    _seed_consent()
    db.session.commit()
    return created


def _user(login: str) -> User | None:
    return db.session.execute(select(User).where(User.login == login)).scalar_one_or_none()


def _seed_catalog() -> bool:
    """Add the product types that are missing; True if any was."""
    existing = set(db.session.execute(select(ProductType.name)).scalars())
    for type_name, tariffs in CATALOG.items():
        if type_name not in existing:
            db.session.add(ProductType(name=type_name, needs_phone_verification=type_name in NEED_A_VERIFIED_PHONE,
                                       tariffs=[Tariff(name=n, price=Decimal(p)) for n, p in tariffs]))
    db.session.flush()
    return not existing >= CATALOG.keys()


def _seed_billing(billed: list[tuple[User, int, int]]) -> None:
    """A monthly order, payment and expense for each (owner, months, seed); `seed` varies tariff and
    amount. Oldest first across all clients, so that lists (newest id first) show the latest on top."""
    tariffs = db.session.execute(select(Tariff).order_by(Tariff.id)).scalars().all()
    now = utcnow()
    for months_ago in reversed(range(max((months for _owner, months, _seed in billed), default=0))):
        when = now - timedelta(days=30 * months_ago)
        for owner, months, seed in billed:
            if months_ago >= months:
                continue
            tariff = tariffs[seed % len(tariffs)]
            order = Order(client=owner.client, user=owner, tariff=tariff, status="active",
                          price=tariff.price, created_at=when)
            db.session.add(order)
            db.session.add(Payment(client=owner.client, amount=Decimal(50 + 25 * seed), method="card",
                                   reference=f"DEMO-{seed}-{months_ago}", created_at=when))
            db.session.add(Expense(client=owner.client, order=order, amount=tariff.price,
                                   description=f"{tariff.name}, monthly", created_at=when))


CONSENT_DOCUMENTS = [
    ("Privacy policy", True, "We process your name, email, phone number and sign-in records to run "
     "your account and bill your services. We keep billing records for the legally required period."),
    ("User agreement", True, "The terms under which we provide hosting services to you."),
    ("Marketing messages", False, "We may email you about new services and offers. You can withdraw "
     "this consent at any time in General settings."),
]


def _seed_consent() -> None:
    """The three documents with a first version; demo client users have accepted the required ones."""
    existing = {d.title for d in consent.documents()}
    for title, required, text in CONSENT_DOCUMENTS:
        if title not in existing:
            document = consent.create_document(title, required)
            consent.publish_version(document, text, utcnow())
    db.session.flush()
    demo_clients = [f"client{n}@example.com" for n in range(1, len(MORE_CLIENTS) + 1)]
    for login in ["owner@example.com", "colleague@example.com", *demo_clients]:
        user = _user(login)
        if user is not None and consent.missing_required(user):
            for _document, version in consent.missing_required(user):
                consent.record(user, version, consent.ACCEPTED)
