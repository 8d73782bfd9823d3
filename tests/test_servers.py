"""The loopback servers work with the real client libraries (smtplib, vonage SDK, authlib, urllib)."""

import json
import smtplib
import ssl
import urllib.request
from email.message import EmailMessage
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import (
    AuthenticationError,
    HttpRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from vonage_sms import SmsError, SmsMessage
from vonage_verify import SmsChannel, VerifyRequest, VoiceChannel

from tests.servers.smtp import SmtpServer

NUMBER = "447700900123"


def _mail(to="ann@example.com", subject="Hello", body="Visit https://portal.test/x?a=1 now"):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "portal@example.com", to, subject
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    return message


# SMTP -----------------------------------------------------------------------------------
def test_smtp_collects_parsed_messages(smtp):
    with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
        client.send_message(_mail())
    mail = smtp.wait_for(lambda m: m.to == "ann@example.com", timeout=5)
    assert mail.subject == "Hello" and mail.sender == "portal@example.com"
    assert "Visit" in mail.body and "<p>" in mail.html
    assert mail.links == ["https://portal.test/x?a=1"]
    assert mail.recipients == ("ann@example.com",) and len(smtp.messages) == 1


def test_smtp_wait_for_times_out_and_faults(smtp):
    with pytest.raises(TimeoutError):
        smtp.wait_for(lambda m: True, timeout=0.2)
    smtp.fail_with("451 4.3.0 Try again later")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as err:
            client.send_message(_mail())
    assert err.value.smtp_code == 451 and smtp.messages == []
    smtp.stop()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(smtp.host, smtp.port, timeout=5)
    smtp.reset()  # faults last until reset()
    smtp.start()  # same port again
    with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
        client.send_message(_mail(subject="Back"))
    assert smtp.wait_for(timeout=5).subject == "Back"


def test_smtp_starttls_and_auth(tmp_path):
    with SmtpServer(tls=True, username="mailer", password="pw") as server:
        context = ssl.create_default_context(cafile=server.ca_pem_path(tmp_path / "ca.pem"))
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.starttls(context=context)
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("mailer", "wrong")
            client.login("mailer", "pw")
            client.send_message(_mail(to="bob@example.com"))
        assert server.wait_for(timeout=5).to == "bob@example.com"
        assert server.app_config()["MAIL_USE_TLS"] is True


# Vonage with the real SDK -----------------------------------------------------------------
@pytest.fixture
def sdk(vonage, monkeypatch):
    """A factory of real SDK clients trusting the fake's CA through REQUESTS_CA_BUNDLE."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", vonage.ca_path)

    def make(secret=None):
        options = HttpClientOptions(api_host=vonage.address, rest_host=vonage.address, timeout=2)
        return Vonage(Auth(api_key=vonage.api_key, api_secret=secret or vonage.api_secret), options)

    return make


def test_vonage_sms_send(sdk, vonage):
    response = sdk().sms.send(SmsMessage(to=NUMBER, from_="Portal", text="Your code is 1234"))
    assert response.message_count == "1" and response.messages[0].status == "0"
    assert vonage.sent == [{"to": NUMBER, "from": "Portal", "text": "Your code is 1234",
                            "channel": "sms", "request_id": None, "type": "text"}]
    assert vonage.requests[-1]["auth"] == "basic"


def test_vonage_sms_errors_come_as_statuses(sdk, vonage):
    with pytest.raises(SmsError, match="error code 4"):
        sdk(secret="wrong").sms.send(SmsMessage(to=NUMBER, from_="Portal", text="x"))
    with pytest.raises(SmsError, match="error code 3"):
        sdk().sms.send(SmsMessage(to="+" + NUMBER, from_="Portal", text="x"))
    long = sdk().sms.send(SmsMessage(to=NUMBER, from_="Portal", text="y" * 200))
    assert long.message_count == "2"


def test_one_client_for_verify_and_sms_breaks_sms(sdk, vonage):
    """SDK issue #323: the JSON Content-Type of Verify sticks to the client's SMS forms."""
    client = sdk()
    client.verify.start_verification(VerifyRequest(brand="Portal",
                                                   workflow=[SmsChannel(to=NUMBER)]))
    with pytest.raises(SmsError, match="error code 2"):
        client.sms.send(SmsMessage(to=NUMBER, from_="Portal", text="x"))


def test_vonage_verify_right_and_wrong_code(sdk, vonage):
    client = sdk()
    started = client.verify.start_verification(VerifyRequest(
        brand="Portal", code_length=6, channel_timeout=300,
        workflow=[SmsChannel(to=NUMBER), VoiceChannel(to=NUMBER)]))
    record = vonage.verifications[started.request_id]
    assert (record.number, record.brand, record.status, len(record.code)) == \
        (NUMBER, "Portal", "in_progress", 6)
    assert vonage.messages_to(NUMBER)[-1]["text"].endswith(record.code)
    assert vonage.requests[-1]["auth"] == "basic"
    wrong = "000000" if record.code != "000000" else "111111"
    with pytest.raises(HttpRequestError) as err:
        client.verify.check_code(started.request_id, wrong)
    assert err.value.response.status_code == 400
    assert err.value.response.json()["title"] == "Invalid Code"
    checked = client.verify.check_code(started.request_id, vonage.code_for("+" + NUMBER))
    assert checked.status == "completed"
    with pytest.raises(NotFoundError):
        client.verify.check_code(started.request_id, record.code)


def test_vonage_verify_gone_conflict_cancel_next(sdk, vonage):
    client = sdk()
    request = VerifyRequest(brand="Portal", workflow=[SmsChannel(to=NUMBER), VoiceChannel(to=NUMBER)])
    first = client.verify.start_verification(request).request_id
    with pytest.raises(HttpRequestError) as err:
        client.verify.start_verification(request)
    assert err.value.response.status_code == 409
    assert err.value.response.json()["request_id"] == first
    client.verify.trigger_next_workflow(first)
    assert vonage.sent[-1]["channel"] == "voice"
    for _ in range(3):
        with pytest.raises(HttpRequestError) as err:
            client.verify.check_code(first, "99999999")
    assert err.value.response.status_code == 410
    second = client.verify.start_verification(request).request_id
    client.verify.cancel_verification(second)
    assert vonage.verifications[second].status == "cancelled"
    with pytest.raises(NotFoundError):
        client.verify.cancel_verification(second)
    third = client.verify.start_verification(request).request_id
    vonage.expire(third)
    with pytest.raises(HttpRequestError) as err:
        client.verify.check_code(third, vonage.code_for(NUMBER))
    assert err.value.response.status_code == 410


@pytest.mark.parametrize("status, error", [(401, AuthenticationError), (429, RateLimitedError),
                                           (500, ServerError), (503, HttpRequestError)])
def test_vonage_faults_raise_sdk_errors(sdk, vonage, status, error):
    vonage.fail_with(status)
    with pytest.raises(error) as err:
        sdk().verify.start_verification(VerifyRequest(brand="P", workflow=[SmsChannel(to=NUMBER)]))
    assert err.value.response.status_code == status
    assert set(err.value.response.json()) >= {"type", "title", "detail", "instance"}


def test_vonage_bad_credentials_and_once_only_faults(sdk, vonage):
    with pytest.raises(AuthenticationError):
        sdk(secret="wrong").verify.start_verification(
            VerifyRequest(brand="P", workflow=[SmsChannel(to=NUMBER)]))
    vonage.fail_with(500, times=1)
    with pytest.raises(ServerError):
        sdk().sms.send(SmsMessage(to=NUMBER, from_="Portal", text="x"))
    assert sdk().sms.send(SmsMessage(to=NUMBER, from_="Portal", text="x")).messages[0].status == "0"


def test_vonage_hang_and_unreachable(sdk, vonage):
    vonage.hang()
    with pytest.raises(requests.exceptions.ReadTimeout):
        sdk().sms.send(SmsMessage(to=NUMBER, from_="Portal", text="x"))
    vonage.reset()
    vonage.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        sdk().sms.send(SmsMessage(to=NUMBER, from_="Portal", text="x"))


def test_vonage_tls_is_not_trusted_without_the_ca(vonage):
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(f"https://{vonage.address}/sms/json", timeout=5)


# OIDC ---------------------------------------------------------------------------------------
def test_oidc_discovery_and_jwks(oidc):
    metadata = requests.get(oidc.metadata_url, timeout=5).json()
    assert metadata["issuer"] == oidc.issuer
    assert metadata["authorization_endpoint"] == oidc.authorization_endpoint
    keys = requests.get(metadata["jwks_uri"], timeout=5).json()["keys"]
    assert keys and keys[0]["kty"] == "RSA"


def test_oidc_code_flow_with_authlib(oidc):
    oidc.add_user("kc-ann", email="ann@example.com", name="Ann", roles=["portal-admin"],
                  client_roles={"portal": ["billing"]}, amr=["pwd", "otp"], acr="2")
    metadata = oidc.metadata()
    redirect_uri = "http://127.0.0.1:5000/login/keycloak/callback"
    session = OAuth2Session("portal", "portal-secret", scope="openid email profile",
                            redirect_uri=redirect_uri)
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], nonce="n-1")
    callback = oidc.authorize(url, "kc-ann")
    assert callback.startswith(redirect_uri) and parse_qs(urlsplit(callback).query)["state"] == [state]
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback)
    keys = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=5).json())
    claims = jwt.decode(token["id_token"], keys)
    claims.validate()
    assert claims["iss"] == oidc.issuer and claims["sub"] == "kc-ann" and claims["nonce"] == "n-1"
    assert claims["email"] == "ann@example.com" and claims["email_verified"] is True
    assert claims["realm_access"] == {"roles": ["portal-admin"]}
    assert claims["resource_access"] == {"portal": {"roles": ["billing"]}}
    assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == "2"
    assert session.get(metadata["userinfo_endpoint"]).json()["email"] == "ann@example.com"


def test_oidc_deny_and_offline_page(oidc):
    url = oidc.authorization_endpoint + "?" + urlencode({
        "client_id": "portal", "response_type": "code", "scope": "openid",
        "redirect_uri": "http://127.0.0.1:5000/cb", "state": "s"})
    page = requests.get(url, timeout=5).text
    assert 'name="sub"' in page and "Authorize" in page and "cdn.jsdelivr.net" not in page
    assert "error=access_denied" in oidc.authorize(url, "nobody", deny=True)
    assert oidc.app_config("google")["GOOGLE_SERVER_METADATA_URL"] == oidc.metadata_url


# reCAPTCHA -----------------------------------------------------------------------------------
def _siteverify(url, **form):
    with urllib.request.urlopen(url, urlencode(form).encode(), timeout=5) as response:
        return json.loads(response.read())


def test_recaptcha_siteverify(recaptcha):
    token = recaptcha.issue_token()
    ok = _siteverify(recaptcha.verify_url, secret=recaptcha.secret, response=token, remoteip="1.2.3.4")
    assert ok["success"] is True and "challenge_ts" in ok
    again = _siteverify(recaptcha.verify_url, secret=recaptcha.secret, response=token)
    assert again == {"success": False, "error-codes": ["timeout-or-duplicate"]}
    bad = _siteverify(recaptcha.verify_url, secret="nope", response="made-up")
    assert bad["error-codes"] == ["invalid-input-secret", "invalid-input-response"]
    assert _siteverify(recaptcha.verify_url, secret=recaptcha.secret)["error-codes"] == \
        ["missing-input-response"]
    assert recaptcha.requests[0]["remoteip"] == "1.2.3.4"
    script = urllib.request.urlopen(recaptcha.script_url, timeout=5).read().decode()
    assert recaptcha.browser_token in script


def test_recaptcha_with_flask_wtf_validator(recaptcha):
    from flask import Flask
    from flask_wtf import FlaskForm
    from flask_wtf.recaptcha import RecaptchaField

    class Form(FlaskForm):
        recaptcha = RecaptchaField()

    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", WTF_CSRF_ENABLED=False, **recaptcha.app_config())
    with app.test_request_context(method="POST", data={"g-recaptcha-response": "forged"}):
        assert not Form().validate()
    with app.test_request_context(method="POST",
                                  data={"g-recaptcha-response": recaptcha.issue_token()}):
        assert Form().validate()
