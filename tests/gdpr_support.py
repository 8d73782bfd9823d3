"""Helpers of the GDPR tests: consent documents, sign-up with consents, an email change, installing
the module."""

from portal.extensions import db
from portal.models.base import utcnow
from portal.services import consent, modules
from tests.outbox import link_in
from tests.signup import register


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


def register_with_consents(web, email: str, name: str, consents: dict, password: str = "new password 12"):
    """Sign up ticking the versions `consents` marks True, then open the emailed link; returns the
    confirm response."""
    response = register(web, email=email, name=name, password=password,
                        **{f"consent_{version.id}": "y" for version, ticked in consents.items() if ticked})
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    path = link_in(email, "/register/confirm/")
    return web.post_form(path, {}, page_url=path)


def request_email_change(web, name: str, email: str, password: str = "new password 12"):
    """Ask for a new address in General settings (a link goes to it)."""
    response = web.post_form("/settings/general", {"name": name, "email": email, "email_password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]


def change_email(web, name: str, email: str, password: str = "new password 12"):
    """Change the address in General settings and open the link mailed to it."""
    request_email_change(web, name, email, password)
    path = link_in(email, "/settings/email/confirm/")
    response = web.post_form(path, {}, page_url=path)
    assert response.headers["Location"] == "/settings/general"


def install_clear_data() -> None:
    modules.install(modules.GDPR_CLEAR_DATA)
    db.session.commit()
