"""Helpers of the GDPR tests: consent documents, the registration link, an email change, installing
the module."""

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage
from portal.models.base import utcnow
from portal.services import consent, modules

LINK = re.compile(r"(/register/confirm/[\w-]+)")
EMAIL_LINK = re.compile(r"(/settings/email/confirm/\S+)")


def publish(title: str, required: bool, text: str = "Text."):
    """A document with a first version in force from now on; returns (document, version)."""
    document = consent.create_document(title, required)
    version = consent.publish_version(document, text, utcnow())
    db.session.commit()
    return document, version


def standard_documents() -> dict:
    return {title: publish(title, required) for title, required in
            [("Privacy policy", True), ("User agreement", True), ("Marketing messages", False)]}


def accept_all_required(user) -> None:
    for _document, version in consent.missing_required(user):
        consent.record(user, version, consent.ACCEPTED)
    db.session.commit()


def last_mail_to(email: str) -> str:
    return db.session.execute(
        select(OutboxMessage.body).where(OutboxMessage.recipient == email)
        .order_by(OutboxMessage.id.desc())
    ).scalars().first()


def confirmation_path(email: str) -> str:
    return LINK.search(last_mail_to(email)).group(1)


def register(web, email: str, name: str, consents: dict, password: str = "new password 12"):
    """Sign up through the form and the emailed link; returns the confirm response."""
    data = {"email": email, "name": name, "password": password, "confirm": password,
            **{f"consent_{version.id}": "y" for version, ticked in consents.items() if ticked}}
    response = web.post_form("/register", data)
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    path = confirmation_path(email)
    return web.post_form(path, {}, page_url=path)


def request_email_change(web, name: str, email: str, password: str = "new password 12"):
    """Ask for a new address in General settings (a link goes to it)."""
    response = web.post_form("/settings/general", {"name": name, "email": email, "email_password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]


def change_email(web, name: str, email: str, password: str = "new password 12"):
    """Change the address in General settings and open the link mailed to it."""
    request_email_change(web, name, email, password)
    path = EMAIL_LINK.search(last_mail_to(email)).group(1)
    response = web.post_form(path, {}, page_url=path)
    assert response.headers["Location"] == "/settings/general"


def install_clear_data() -> None:
    modules.install(modules.GDPR_CLEAR_DATA)
    db.session.commit()
