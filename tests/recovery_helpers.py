"""Password recovery in tests: the mail and SMS clients, asking for a link or a code, using it."""

import re

import pytest

from portal.models.base import utcnow
from tests.web import WebClient

NEW = "violet kettle under moonlight"
PHONE = "+447700900321"


@pytest.fixture
def mail_web(make_app, smtp):
    return WebClient(make_app(**smtp.app_config(), PUBLIC_URL="https://portal.example").test_client())


@pytest.fixture
def sms_web(make_app, vonage):
    return WebClient(make_app(**vonage.app_config()).test_client())


def ask(web, login, channel="email"):
    return web.post_form("/recover", {"login": login, "channel": channel})


def reset_path(smtp, email):
    mail = smtp.wait_for(lambda m: email in m.to)
    link = mail.links[0]
    assert link.startswith("https://portal.example/recover/reset/")  # PUBLIC_URL, not the Host
    return link.removeprefix("https://portal.example")


def set_password(web, path, password=NEW, confirm=None):
    return web.post_form(path, {"password": password, "confirm": confirm or password})


def page_text(response):
    return re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", response.get_data(as_text=True))


def sms_user(factories):
    return factories.client_user(email="phone@example.com", phone=PHONE, phone_verified_at=utcnow())


def code_step(web, code):
    return web.post_form("/recover/code", {"code": code})


def sms_code(vonage):
    return re.search(r"\b(\d{6})\b", vonage.messages_to(PHONE.removeprefix("+"))[-1]["text"]).group(1)


def resend(web):
    return web.post_form("/recover/code/resend", {}, page_url="/recover/code")
