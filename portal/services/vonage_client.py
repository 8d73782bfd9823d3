"""The portal's only gateway to Vonage: SMS sending, Verify v2 codes and Number Insight line types,
with SDK errors made safe.

Every function takes the Flask config mapping (``current_app.config`` or a plain dict):
VONAGE_API_KEY, VONAGE_API_SECRET (required); VONAGE_API_HOST, VONAGE_REST_HOST (regions,
tests; "host" or "host:port", https is implied); VONAGE_SMS_SENDER (alphanumeric or digits;
else SMS_SENDER, then "Portal"); VONAGE_TIMEOUT (whole seconds, default 10);
VONAGE_CA_BUNDLE (tests: a PEM file to trust instead of the system CAs; the client then
ignores REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and proxy variables, which requests otherwise
reads and which beat any Session.verify). Numbers are E.164 and go to Vonage without the '+'.
SMS, Verify and Number Insight each get their own SDK client (SDK issue #323: a client used for
Verify's JSON keeps sending that Content-Type with SMS forms). Clients are cached per thread and
settings. The SDK authenticates Verify v2 with HTTP Basic (api key and secret) because no
application id and private key are configured (it would use a JWT then); Number Insight always
takes HTTP Basic.
"""

import logging
import math
import threading

import requests
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import AuthenticationError, HttpRequestError, RateLimitedError
from vonage_number_insight import StandardInsightRequest
from vonage_number_insight.errors import NumberInsightError
from vonage_sms import SmsError, SmsMessage
from vonage_verify import Locale, SmsChannel, VerifyRequest, VoiceChannel

log = logging.getLogger(__name__)
# The SDK's DEBUG lines carry request bodies (codes) and the Basic auth header: never emit them.
logging.getLogger("vonage").setLevel(logging.INFO)
# A Number Insight URL carries the number in full: the SDK's warning on a failed request prints
# its URL, and Number Insight's own warnings the whole answer. line_type logs what failed instead.
logging.getLogger("vonage").addFilter(lambda record: "/ni/" not in record.getMessage())
logging.getLogger("vonage_number_insight").setLevel(logging.ERROR)

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f"
)
_local = threading.local()


class VonageError(Exception):
    """Vonage could not do what we asked; ``user_message`` is safe to show."""

    user_message = "We could not send the message. Please try again later."

    def __init__(self, detail: str = "", *, status: int | None = None):
        super().__init__(detail or self.user_message)
        self.status = status


class VonageUnavailable(VonageError):
    """Vonage did not answer in time, refused the connection or failed (5xx)."""

    user_message = "The SMS service is not reachable right now. Please try again in a few minutes."


class VonageAuthError(VonageError):
    """Vonage refused our credentials (or none are configured)."""

    user_message = "The SMS service is not available. Please contact support."


class VonageRateLimited(VonageError):
    """Vonage is throttling us (HTTP 429 or SMS status 1)."""

    user_message = "Too many messages are being sent right now. Please wait a minute and try again."


class VonageCodeRejected(VonageError):
    """The code was wrong; the user may try again."""

    user_message = "The code is not correct. Check the message and try again."


class VonageVerificationGone(VonageError):
    """The verification expired, was used up by wrong codes, completed or cancelled."""

    user_message = "This code is no longer valid. Please request a new code."


class VonageVerificationInProgress(VonageError):
    """A verification to this number is still running (409); ``request_id`` names it."""

    user_message = "A code was already sent to this number. Enter it, or wait before asking again."

    def __init__(self, detail: str = "", *, status: int | None = 409, request_id: str | None = None):
        super().__init__(detail, status=status)
        self.request_id = request_id


class VonageLookupFailed(VonageError):
    """Number Insight did not answer, refused us or failed: the number's line type is not known."""

    user_message = "We could not check this number right now. Please try again in a few minutes."


def send_sms(config, to_e164: str, text: str, sender: str | None = None) -> str:
    """Send one SMS (split by Vonage if long); returns the first part's message id."""
    unicode = any(ch not in _GSM7 for ch in text)
    sender = sender or config.get("VONAGE_SMS_SENDER") or config.get("SMS_SENDER") or "Portal"
    message = SmsMessage(to=_number(to_e164), from_=sender, text=text,
                         type="unicode" if unicode else "text")
    try:
        response = _client(config, "sms").sms.send(message)
    except SmsError as err:
        raise _sms_status_error(str(err)) from err
    except (HttpRequestError, requests.RequestException) as err:
        raise _translate(err) from err
    return response.messages[0].message_id or ""


def start_verification(config, to_e164: str, brand: str, channels=("sms",), code_length: int = 6,
                       channel_timeout: int = 300, locale: str | None = None) -> str:
    """Ask Vonage to send a code by the given channels in turn; returns the request_id."""
    number = _number(to_e164)
    kinds = {"sms": SmsChannel, "voice": VoiceChannel}
    unknown = set(channels) - kinds.keys()
    if unknown or not channels:
        raise ValueError(f"unsupported verification channels: {sorted(unknown) or 'none'}")
    known_locales = {item.value for item in Locale}
    request = VerifyRequest(
        brand=brand[:16], workflow=[kinds[name](to=number) for name in channels],
        code_length=code_length, channel_timeout=channel_timeout,
        locale=locale.lower() if locale and locale.lower() in known_locales else None)
    try:
        return _client(config, "verify").verify.start_verification(request).request_id
    except (HttpRequestError, requests.RequestException) as err:
        raise _translate(err) from err


def check_code(config, request_id: str, code: str) -> bool:
    """True when Vonage accepts the code.

    Raises VonageCodeRejected for a wrong code (more tries left) and VonageVerificationGone
    when the request expired, was used up by wrong codes, completed or cancelled.
    """
    code = (code or "").strip()
    if not (code.isascii() and code.isalnum() and 4 <= len(code) <= 10):
        raise VonageCodeRejected("code has the wrong form")
    try:
        response = _client(config, "verify").verify.check_code(request_id, code)
    except (HttpRequestError, requests.RequestException) as err:
        if _status(err) == 400:
            raise VonageCodeRejected("wrong code", status=400) from err
        raise _translate(err) from err
    return response.status == "completed"


def cancel_verification(config, request_id: str) -> None:
    """Cancel a running verification; one that is already over is left alone."""
    try:
        _client(config, "verify").verify.cancel_verification(request_id)
    except (HttpRequestError, requests.RequestException) as err:
        error = _translate(err)
        if not isinstance(error, VonageVerificationGone):
            raise error from err


def line_type(config, to_e164: str) -> str:
    """The number's network type by Number Insight Standard (Vonage bills each lookup): "mobile",
    "landline", "landline_premium", "landline_tollfree", "virtual", "pager" or "unknown".
    Any failure (transport, HTTP error, a non-zero status in the answer) is VonageLookupFailed."""
    request = StandardInsightRequest(number=_number(to_e164))
    try:
        client = _client(config, "insight")
        answer = client.number_insight.get_standard_info(request)
    except VonageAuthError as err:
        raise VonageLookupFailed(str(err)) from err
    except NumberInsightError as err:  # HTTP 200 whose "status" is not 0 (nor 43-45: partial data)
        status = client.http_client.last_response.json().get("status")
        log.warning("Vonage Number Insight refused with status %s", status)
        raise VonageLookupFailed(f"Number Insight status {status}") from err
    except (HttpRequestError, requests.RequestException) as err:
        error = _translate(err)
        raise VonageLookupFailed(str(error), status=error.status) from err
    except (TypeError, KeyError, ValueError) as err:  # an answer the SDK cannot read (ValidationError is a ValueError)
        log.warning("Vonage Number Insight answered something unreadable: %s", type(err).__name__)
        raise VonageLookupFailed(f"unreadable Number Insight answer: {type(err).__name__}") from err
    carrier = answer.current_carrier
    return (carrier and carrier.network_type) or "unknown"


def _number(to_e164: str) -> str:
    number = (to_e164 or "").strip().removeprefix("+")
    if not number.isdigit() or not 7 <= len(number) <= 15 or number.startswith("0"):
        raise ValueError("phone number must be in E.164 form, e.g. +447700900000")
    return number


def configured(config) -> bool:
    """The API key and secret are set (whether Vonage accepts them is another matter)."""
    return bool(config.get("VONAGE_API_KEY") and config.get("VONAGE_API_SECRET"))


def _client(config, kind: str) -> Vonage:
    """A cached SDK client for one API ("sms", "verify" or "insight"), never shared between them."""
    if not configured(config):
        raise VonageAuthError("VONAGE_API_KEY and VONAGE_API_SECRET are not configured")
    key, secret = config["VONAGE_API_KEY"], config["VONAGE_API_SECRET"]
    timeout = max(1, math.ceil(float(config.get("VONAGE_TIMEOUT", 10))))
    hosts = {"api_host": config.get("VONAGE_API_HOST"), "rest_host": config.get("VONAGE_REST_HOST")}
    ca_bundle = config.get("VONAGE_CA_BUNDLE")
    settings = (kind, key, secret, hosts["api_host"], hosts["rest_host"], timeout, ca_bundle)
    cache = _local.__dict__.setdefault("clients", {})
    client = cache.get(settings)
    if client is None:
        # A lookup is billed and its URL holds the number (urllib3 logs the URL it retries): no
        # urllib3 retries (the SDK itself still re-sends a request whose connection was dropped).
        retries = 0 if kind == "insight" else 1
        options = HttpClientOptions.model_validate(
            {**{k: v for k, v in hosts.items() if v}, "timeout": timeout, "max_retries": retries})
        client = Vonage(Auth(api_key=key, api_secret=secret), options)
        if ca_bundle:  # trust exactly this CA: the SDK's requests.Session ignores the env
            session = client.http_client._session
            session.trust_env, session.verify = False, ca_bundle
        cache[settings] = client
    return client


def _status(err: Exception) -> int | None:
    response = getattr(err, "response", None)
    return getattr(response, "status_code", None)


def _translate(err: Exception) -> VonageError:
    """Our exception for an SDK HTTP error or a requests transport error."""
    status = _status(err)
    log.warning("Vonage request failed: %s (HTTP %s)", type(err).__name__, status)
    if isinstance(err, requests.RequestException) and status is None:
        return VonageUnavailable(f"transport error: {type(err).__name__}")
    if isinstance(err, AuthenticationError) or status in (401, 403):
        return VonageAuthError("credentials refused", status=status)
    if isinstance(err, RateLimitedError) or status == 429:
        return VonageRateLimited("throttled", status=status)
    if status in (404, 410):
        return VonageVerificationGone("verification is over", status=status)
    if status == 409:
        try:
            request_id = err.response.json().get("request_id")
        except ValueError:
            request_id = None
        return VonageVerificationInProgress("concurrent verification", request_id=request_id)
    if status is not None and status >= 500:
        return VonageUnavailable(f"Vonage answered {status}", status=status)
    return VonageError(f"Vonage answered {status}", status=status)


def _sms_status_error(detail: str) -> VonageError:
    """Our exception for an SMS API status (HTTP 200 with a non-zero status per message)."""
    code = detail.split("error code ", 1)[-1].split(":", 1)[0].strip()
    log.warning("Vonage SMS refused with status %s", code)
    if code == "1":
        return VonageRateLimited(detail)
    if code in ("4", "8"):
        return VonageAuthError(detail)
    if code in ("5", "6"):
        return VonageUnavailable(detail)
    return VonageError(detail)
