"""Message delivery: console outbox, SMTP to a real server, Vonage SMS through the real SDK."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage
from portal.services.delivery import DeliveryError
from portal.services.mail import send_mail
from portal.services.sms import send_sms


def test_console_backends_fill_the_outbox_page(make_app):
    app = make_app()
    with app.app_context():
        send_mail("ann@example.com", "Hello Ann", "Your link: http://portal.test/x")
        send_sms("+447700900123", "Your code is 123456")
    body = app.test_client().get("/dev/outbox").get_data(as_text=True)
    assert "Hello Ann" in body and "ann@example.com" in body
    assert "+447700900123" in body and "Your code is 123456" in body


@pytest.mark.parametrize("headers", [{}, {"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"},
                                     {"X-Real-IP": "203.0.113.9"}])
def test_outbox_answers_only_loopback_and_nothing_that_came_through_a_proxy(make_app, headers):
    """A TLS proxy on the same host (without PROXY_FIX_*) hands every visitor a loopback peer."""
    app = make_app()
    remote = "203.0.113.9" if not headers else "127.0.0.1"
    response = app.test_client().get("/dev/outbox", headers=headers, environ_base={"REMOTE_ADDR": remote})
    assert response.status_code == 404


def test_outbox_absent_without_console_backend(make_app, smtp, vonage):
    app = make_app(**smtp.app_config(), **vonage.app_config())
    assert app.test_client().get("/dev/outbox").status_code == 404


def test_smtp_backend_delivers_to_the_server(make_app, smtp):
    app = make_app(**smtp.app_config())
    with app.app_context():
        send_mail("bob@example.com", "Reset", "Open http://portal.test/reset")
    mail = smtp.wait_for(lambda m: "bob@example.com" in m.to)
    assert mail.subject == "Reset" and "http://portal.test/reset" in mail.body
    with app.app_context():
        assert db.session.execute(select(OutboxMessage)).first() is None


def test_smtp_unreachable_is_a_clear_delivery_error(make_app, smtp):
    app = make_app(**smtp.app_config())
    smtp.stop()
    with app.app_context(), pytest.raises(DeliveryError) as error:
        send_mail("bob@example.com", "Reset", "body")
    assert "could not be sent" in error.value.message


def test_vonage_backend_sends_through_the_sdk(make_app, vonage):
    app = make_app(**vonage.app_config(), SMS_SENDER="Portal")
    with app.app_context():
        send_sms("+447700900123", "Your code is 654321")
    sms = vonage.sent[-1]
    assert sms["to"] == "447700900123"  # Vonage numbers go without "+"
    assert sms["text"] == "Your code is 654321"


@pytest.mark.parametrize("status", [401, 429, 500])
def test_vonage_faults_are_clear_delivery_errors(make_app, vonage, status):
    app = make_app(**vonage.app_config())
    vonage.fail_with(status)
    with app.app_context(), pytest.raises(DeliveryError) as error:
        send_sms("+447700900123", "text")
    assert "could not be sent" in error.value.message
