"""Shared set-up of the fraud tests: a catalog with covered services, protection switched on, the
/verify-phone steps."""

from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AuthEvent,
    Order,
    PhoneVerification,
    ProductType,
    Provider,
    Tariff,
)
from portal.services import settings
from tests.web import WebClient

MOBILE_GB = "+447400123456"
MOBILE_GB_2 = "+447400123457"
MOBILE_DE = "+4915123456789"
LANDLINE_GB = "+442079460000"
PAGE = "/verify-phone"


def make_catalog() -> dict:
    """Virtual server (type covered), Dedicated server (one tariff covered), Hosting (free)."""
    vps = ProductType(name="Virtual server", needs_phone_verification=True,
                      tariffs=[Tariff(name="VPS Start", price=Decimal("5.00"))])
    dedicated = ProductType(name="Dedicated server", tariffs=[
        Tariff(name="Dedicated E3", price=Decimal("90.00"), needs_phone_verification=True),
        Tariff(name="Dedicated Gold", price=Decimal("180.00"))])
    hosting = ProductType(name="Hosting", tariffs=[Tariff(name="Hosting Lite", price=Decimal("3.00"))])
    db.session.add_all([vps, dedicated, hosting])
    db.session.commit()
    return {"vps": vps.tariffs[0].id, "e3": dedicated.tariffs[0].id,
            "gold": dedicated.tariffs[1].id, "hosting": hosting.tariffs[0].id}


def protect(**values) -> None:
    """Switch fraud protection on (and set any other fraud.* setting by its short name)."""
    settings.update({f"fraud.{key}": value for key, value in {"enabled": True, **values}.items()})
    db.session.commit()


def send(web, number=MOBILE_GB, next_url="", htmx=False):
    """Ask on /verify-phone for a code to `number` (as htmx sends it when `htmx`)."""
    data = {"phone": number, "next": next_url}
    if htmx:
        return web.htmx("POST", "/verify-phone/send", page_url=PAGE, data=data)
    return web.post_form("/verify-phone/send", data, page_url=PAGE)


def check(web, code, next_url="", htmx=False):
    """Enter `code` on /verify-phone (as htmx sends it when `htmx`)."""
    data = {"code": code, "next": next_url}
    if htmx:
        return web.htmx("POST", "/verify-phone/check", page_url=PAGE, data=data)
    return web.post_form("/verify-phone/check", data, page_url=PAGE)


def auth_events(event: str) -> list[AuthEvent]:
    return list(db.session.execute(select(AuthEvent).where(AuthEvent.event == event)
                                   .order_by(AuthEvent.id)).scalars())


def orders() -> list[Order]:
    return list(db.session.execute(select(Order)).scalars())


def verifications() -> list[PhoneVerification]:
    return list(db.session.execute(select(PhoneVerification).order_by(PhoneVerification.id)).scalars())


def client_on_vonage(make_app, vonage, **config) -> WebClient:
    """The client of the `client_user` fixture, signed in on an app whose SMS backend is the
    loopback Vonage (a three-second timeout, which a loaded machine's answers still meet and a
    hung server's wait stays short; `config` on top), with the catalog in place."""
    app = make_app(**{**vonage.app_config(), "VONAGE_TIMEOUT": 3, **config})
    web = WebClient(app.test_client())
    web.login("client@example.com", "client password 1")
    make_catalog()
    return web


def client_of_a_second_provider(app, factories, values: dict, for_its_provider: bool) -> WebClient:
    """A signed-in client user of a second provider; the fraud settings `values` (by short name)
    are stored for that provider when `for_its_provider`, else for the default provider only."""
    provider = Provider(name="Second provider")
    db.session.add(provider)
    db.session.commit()
    settings.update({f"fraud.{key}": value for key, value in values.items()},
                    provider_id=provider.id if for_its_provider else None)
    db.session.commit()
    factories.client_user(email="other@example.com", provider_id=provider.id)
    web = WebClient(app.test_client())
    web.login("other@example.com", "client password 1")
    return web
