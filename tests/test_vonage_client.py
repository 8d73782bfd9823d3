"""portal.services.vonage_client against the loopback Vonage (real SDK, real TLS, no mocks)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from portal.services import vonage_client as vc
from tests.servers.fixtures import portal_env

NUMBER = "+447700900456"


@pytest.fixture
def config(vonage):
    return {**vonage.app_config(), "VONAGE_TIMEOUT": 1, "SMS_SENDER": "Portal"}


def test_send_sms_strips_plus_and_picks_encoding(config, vonage):
    assert vc.send_sms(config, NUMBER, "Your code is 1234", "Portal")
    assert vc.send_sms(config, NUMBER, "Код: 1234", "Portal")
    plain, cyrillic = vonage.messages_to(NUMBER)
    assert plain["to"] == NUMBER[1:] and plain["from"] == "Portal" and plain["type"] == "text"
    assert cyrillic["text"] == "Код: 1234" and cyrillic["type"] == "unicode"


def test_sms_and_verify_use_separate_clients(config, vonage):
    """A verification first must not break the next SMS (SDK issue #323)."""
    vc.start_verification(config, NUMBER, "Portal")
    vc.send_sms(config, NUMBER, "hello", "Portal")
    sms_request = [r for r in vonage.requests if r["path"] == "/sms/json"][-1]
    assert sms_request["content_type"] == "application/x-www-form-urlencoded"
    assert vonage.messages_to(NUMBER)[-1]["text"] == "hello"


def test_verification_happy_path(config, vonage):
    request_id = vc.start_verification(config, NUMBER, "A very long brand name", code_length=6,
                                       channels=("sms", "voice"), locale="en-GB")
    record = vonage.verifications[request_id]
    assert record.number == NUMBER[1:] and record.brand == "A very long bran"
    assert len(record.code) == 6 and record.locale == "en-gb"
    assert [step["channel"] for step in record.workflow] == ["sms", "voice"]
    assert vc.check_code(config, request_id, " " + vonage.code_for(NUMBER) + " ") is True
    with pytest.raises(vc.VonageVerificationGone):
        vc.check_code(config, request_id, record.code)


def test_wrong_codes_then_gone(config, vonage):
    request_id = vc.start_verification(config, NUMBER, "Portal")
    wrong = "00000000"
    for _ in range(2):
        with pytest.raises(vc.VonageCodeRejected) as err:
            vc.check_code(config, request_id, wrong)
        assert err.value.user_message.startswith("The code is not correct")
    with pytest.raises(vc.VonageVerificationGone):
        vc.check_code(config, request_id, wrong)
    with pytest.raises(vc.VonageCodeRejected):
        vc.check_code(config, request_id, "12")  # refused before it reaches Vonage


def test_expired_and_cancelled(config, vonage):
    request_id = vc.start_verification(config, NUMBER, "Portal")
    vonage.expire(request_id)
    with pytest.raises(vc.VonageVerificationGone):
        vc.check_code(config, request_id, vonage.code_for(NUMBER))
    second = vc.start_verification(config, NUMBER, "Portal")
    vc.cancel_verification(config, second)
    vc.cancel_verification(config, second)  # already over: nothing to do
    assert vonage.verifications[second].status == "cancelled"


def test_concurrent_verification_names_the_running_one(config, vonage):
    first = vc.start_verification(config, NUMBER, "Portal")
    with pytest.raises(vc.VonageVerificationInProgress) as err:
        vc.start_verification(config, NUMBER, "Portal")
    assert err.value.request_id == first


@pytest.mark.parametrize("status, error", [
    (401, vc.VonageAuthError), (403, vc.VonageAuthError), (429, vc.VonageRateLimited),
    (500, vc.VonageUnavailable), (503, vc.VonageUnavailable)])
def test_http_faults_become_our_errors(config, vonage, status, error):
    vonage.fail_with(status)
    with pytest.raises(error) as err:
        vc.start_verification(config, NUMBER, "Portal")
    assert err.value.status == status and err.value.user_message
    with pytest.raises(error):
        vc.send_sms(config, NUMBER, "x", "Portal")
    with pytest.raises(error):
        vc.check_code(config, "some-id", "1234")


def test_sms_statuses_become_our_errors(config, vonage):
    with pytest.raises(vc.VonageAuthError):
        vc.send_sms({**config, "VONAGE_API_SECRET": "wrong"}, NUMBER, "x", "Portal")
    with pytest.raises(vc.VonageAuthError):
        vc.send_sms({**config, "VONAGE_API_KEY": None}, NUMBER, "x", "Portal")
    with pytest.raises(ValueError):
        vc.send_sms(config, "07700 900456", "x", "Portal")


def test_hang_times_out_and_down_is_unavailable(config, vonage):
    vonage.hang()
    with pytest.raises(vc.VonageUnavailable) as hung:
        vc.check_code(config, "some-id", "1234")
    assert isinstance(hung.value.__cause__, requests.exceptions.ReadTimeout)  # our timeout, not the server's
    vonage.reset()
    vonage.stop()
    with pytest.raises(vc.VonageUnavailable) as down:
        vc.send_sms(config, NUMBER, "x", "Portal")
    assert isinstance(down.value.__cause__, requests.exceptions.ConnectionError)


def test_untrusted_certificate_is_unavailable(config, vonage, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with pytest.raises(vc.VonageUnavailable) as untrusted:
        vc.send_sms({**config, "VONAGE_CA_BUNDLE": None}, NUMBER, "x", "Portal")
    assert isinstance(untrusted.value.__cause__, requests.exceptions.SSLError)


def test_ca_bundle_from_the_environment(config, vonage, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", vonage.ca_path)
    assert vc.send_sms({**config, "VONAGE_CA_BUNDLE": None}, NUMBER, "x", "Portal")


def test_another_process_reaches_the_fake_through_portal_env(vonage):
    """What gunicorn workers do: read PORTAL_* variables, trust the CA, send."""
    script = ("from flask import Flask; from portal.services import vonage_client as vc; "
              "app = Flask('worker'); app.config.from_prefixed_env('PORTAL'); "
              "vc.send_sms(app.config, '+447700900456', 'from a worker', None)")
    env = {**os.environ, **portal_env(vonage.app_config(), {"VONAGE_TIMEOUT": 5})}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60,
                   cwd=Path(__file__).resolve().parents[1])
    assert vonage.messages_to(NUMBER)[-1]["text"] == "from a worker"
