"""Vonage's SMS, Verify v2 and Number Insight Standard HTTP behaviour as a WSGI app with state tests
can read and steer.

Served over TLS by tests.servers.vonage.VonageServer (which documents the behaviour); kept
apart so that each module stays small.
"""

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs

import phonenumbers
from werkzeug.wrappers import Request, Response

_ERRORS = {  # status: (title, slug of the type URL, default detail)
    400: ("Bad Request", "bad-request", ""), 403: ("Forbidden", "forbidden", ""),
    401: ("Unauthorized", "unauthorized", "You did not provide correct credentials."),
    404: ("Not Found", "not-found", ""), 409: ("Conflict", "conflict", ""),
    410: ("Gone", "gone", ""), 422: ("Invalid params", "invalid-params", ""),
    429: ("Rate Limit Hit", "throttled", "Please wait, then retry your request"),
    500: ("Internal Error", "internal-error", "Something went wrong."),
    503: ("Service Unavailable", "service-unavailable", "Please try again later."),
}
_CHANNELS = {"sms", "voice", "whatsapp", "email", "silent_auth"}
_INSIGHT_STATUS = {1: "Throttled", 3: "Invalid request", 4: "Invalid credentials", 5: "Internal Error",
                   9: "Partner quota exceeded", 19: "Facility Not Allowed"}


def _digits_ok(number) -> bool:
    return isinstance(number, str) and number.isdigit() and 7 <= len(number) <= 15 \
        and not number.startswith("0")


def _problem(status: int, detail: str = "", title: str = "", **extra) -> Response:
    """An RFC 7807 error body the way Vonage's newer APIs (Verify v2) write them."""
    default_title, slug, default_detail = _ERRORS.get(status, ("Error", "error", ""))
    body = {"type": f"https://developer.nexmo.com/api-errors#{slug}",
            "title": title or default_title, "detail": detail or default_detail or default_title,
            "instance": str(uuid.uuid4()), **extra}
    return Response(json.dumps(body), status, content_type="application/problem+json")


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


@dataclass
class Verification:
    """One Verify v2 request as the fake keeps it."""

    request_id: str
    number: str
    code: str
    brand: str
    workflow: list[dict]
    channel_timeout: int
    code_length: int
    locale: str | None = None
    client_ref: str | None = None
    status: str = "in_progress"  # completed, failed, expired, cancelled
    attempts: int = 0  # checks with a wrong code
    step: int = 0  # index of the workflow channel delivered last
    expires_at: float = 0.0


class VonageApi:
    """The fake's API and state, without the network side."""

    def __init__(self, api_key: str, api_secret: str, *, max_attempts: int = 3,
                 allow_concurrent: bool = False):
        self.api_key, self.api_secret = api_key, api_secret
        self.max_attempts = max_attempts
        self.allow_concurrent = allow_concurrent
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._hanging = False
        self.reset()

    def reset(self) -> None:
        """Forget messages, verifications and faults; release hung requests."""
        with self._lock:
            self._sent: list[dict] = []
            self._verifications: dict[str, Verification] = {}
            self._requests: list[dict] = []
            self._fail_status: int | None = None
            self._fail_times: int | None = None
            self._line_types: dict[str, str] = {}
            self._lookups: list[str] = []
            self._lookup_status = 0
            self._lookup_body: str | None = None
        self._release.set()
        self._hanging = False

    # the HTTP side ------------------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        request.get_data()  # cache the body: form parsing and get_data() both read it later
        return self._respond(request)(environ, start_response)

    def _respond(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        kind = auth.split(" ", 1)[0].lower() or ("body" if "api_key" in request.values else None)
        with self._lock:
            self._requests.append({"method": request.method, "path": request.path, "auth": kind,
                                   "content_type": request.content_type})
            status = self._fail_status
            if status is not None and self._fail_times is not None:
                self._fail_times -= 1
                if self._fail_times <= 0:
                    self._fail_status = self._fail_times = None
        if self._hanging:
            self._release.wait(120)
            return _problem(503)
        if status is not None:
            return _problem(status)
        if request.path == "/sms/json" and request.method == "POST":
            return self._send_sms(request)
        if request.path == "/ni/standard/json" and request.method == "GET":
            return self._standard_insight(request)
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["v2", "verify"] or len(parts) > 4:
            return _problem(404, "The requested resource does not exist")
        if not self._basic_auth_ok(auth):
            return _problem(401)
        if len(parts) == 2 and request.method == "POST":
            return self._start(request)
        if len(parts) == 3 and request.method == "POST":
            return self._check(parts[2], request)
        if len(parts) == 3 and request.method == "DELETE":
            return self._cancel(parts[2])
        if len(parts) == 4 and parts[3] == "next_workflow" and request.method == "POST":
            return self._next_workflow(parts[2])
        return _problem(405, "Method not allowed", title="Method Not Allowed")

    def _basic_auth_ok(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(f"{key}:{secret}", f"{self.api_key}:{self.api_secret}")

    def _send_sms(self, request: Request) -> Response:
        if request.content_type == "application/json":
            try:
                params = json.loads(request.get_data(as_text=True) or "{}")
            except ValueError:
                params = {}
        else:
            params = {k: v[-1] for k, v in parse_qs(request.get_data(as_text=True)).items()}
            params = {**request.args.to_dict(), **params}

        def failed(status: str, text: str) -> Response:
            return _json({"message-count": "1", "messages": [{"status": status, "error-text": text}]})
        if not self._basic_auth_ok(request.headers.get("Authorization", "")) and (
                params.get("api_key"), params.get("api_secret")) != (self.api_key, self.api_secret):
            return failed("4", "Bad Credentials")
        for name in ("from", "to", "text"):
            if not params.get(name):
                return failed("2", f"Missing {name} param")
        if not _digits_ok(params["to"]):
            return failed("3", "Invalid to param: use E.164 digits without '+'")
        unicode = params.get("type") == "unicode"
        single, multi = (70, 67) if unicode else (160, 153)
        length = len(params["text"])
        count = 1 if length <= single else -(-length // multi)
        message = {"to": params["to"], "from": params["from"], "text": params["text"],
                   "channel": "sms", "request_id": None, "type": params.get("type", "text")}
        with self._lock:
            self._sent.append(message)
        part = {"to": params["to"], "status": "0", "remaining-balance": "10.00000000",
                "message-price": "0.03330000", "network": "23410"}
        return _json({"message-count": str(count), "messages": [
            {**part, "message-id": uuid.uuid4().hex.upper()[:16]} for _ in range(count)]})

    def _standard_insight(self, request: Request) -> Response:
        """Number Insight Standard: HTTP 200 whatever happens, the outcome in "status"."""
        number = request.args.get("number", "")

        def failed(status: int) -> Response:
            return _json({"status": status, "status_message": _INSIGHT_STATUS[status],
                          "request_id": str(uuid.uuid4())})
        if not self._basic_auth_ok(request.headers.get("Authorization", "")) and (
                request.args.get("api_key"), request.args.get("api_secret")) != (self.api_key, self.api_secret):
            return failed(4)
        if not _digits_ok(number):
            return failed(3)
        with self._lock:
            self._lookups.append(number)
            status, network_type = self._lookup_status, self._line_types.get(number, "unknown")
            garbled = self._lookup_body
        if garbled is not None:
            return Response(garbled, 200, content_type="application/json")
        if status:
            return failed(status)
        parsed = phonenumbers.parse("+" + number)
        region = phonenumbers.region_code_for_number(parsed) or "unknown"
        carrier = {"network_code": "310260" if network_type == "mobile" else None,
                   "name": f"Carrier of {network_type} lines", "country": region,
                   "network_type": network_type}
        return _json({
            "status": 0, "status_message": "Success", "request_id": str(uuid.uuid4()),
            "international_format_number": number,
            "national_format_number": phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
            "country_code": region, "country_prefix": str(parsed.country_code),
            "request_price": "0.00500000", "remaining_balance": "10.00000000",
            "current_carrier": carrier, "original_carrier": carrier, "ported": "not_ported"})

    def _start(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _problem(422, "The request body must be JSON")
        invalid = []
        brand, workflow = body.get("brand"), body.get("workflow")
        if not isinstance(brand, str) or not 1 <= len(brand) <= 16:
            invalid.append({"name": "brand", "reason": "must be 1-16 characters"})
        if not isinstance(workflow, list) or not workflow:
            invalid.append({"name": "workflow", "reason": "must be a non-empty list"})
            workflow = []
        for i, step in enumerate(workflow):
            if not isinstance(step, dict) or step.get("channel") not in _CHANNELS:
                invalid.append({"name": f"workflow[{i}].channel", "reason": "unsupported channel"})
            elif step["channel"] != "email" and not _digits_ok(step.get("to")):
                invalid.append({"name": f"workflow[{i}].to", "reason": "must be E.164 without '+'"})
        code_length, timeout = body.get("code_length", 4), body.get("channel_timeout", 300)
        for name, value, low, high in (("code_length", code_length, 4, 10),
                                       ("channel_timeout", timeout, 15, 900)):
            if not isinstance(value, int) or not low <= value <= high:
                invalid.append({"name": name, "reason": f"must be {low}-{high}"})
        if invalid:
            return _problem(422, "The value of one or more parameters is invalid",
                            invalid_parameters=invalid)
        number = workflow[0]["to"]
        with self._lock:
            for other in self._verifications.values():
                if (other.number == number and other.status == "in_progress"
                        and other.expires_at > time.time() and not self.allow_concurrent):
                    return _problem(409, "Concurrent verifications to the same number are not "
                                    "allowed", request_id=other.request_id)
            code = body.get("code") or "".join(secrets.choice("0123456789")
                                               for _ in range(code_length))
            verification = Verification(
                request_id=str(uuid.uuid4()), number=number, code=code, brand=brand,
                workflow=workflow, channel_timeout=timeout, code_length=len(code),
                locale=body.get("locale"), client_ref=body.get("client_ref"),
                expires_at=time.time() + timeout * len(workflow))
            self._verifications[verification.request_id] = verification
            self._deliver(verification)
        reply = {"request_id": verification.request_id}
        if workflow[0]["channel"] == "silent_auth":
            reply["check_url"] = (f"https://{request.host}/v2/verify/"
                                  f"{verification.request_id}/silent-auth/redirect")
        return _json(reply, 202)

    def _deliver(self, v: Verification) -> None:
        step = v.workflow[v.step]
        spoken = " ".join(v.code) if step["channel"] == "voice" else v.code
        self._sent.append({"to": step["to"], "from": step.get("from") or v.brand,
                           "text": f"Your {v.brand} verification code is {spoken}",
                           "channel": step["channel"], "request_id": v.request_id})

    def _live(self, request_id: str) -> Verification | Response:
        v = self._verifications.get(request_id)
        if v is None or v.status in ("completed", "cancelled"):
            return _problem(404, f"Request '{request_id}' was not found or it has been "
                                 "verified already.")
        if v.status == "in_progress" and v.expires_at <= time.time():
            v.status = "expired"
        if v.status == "expired":
            return _problem(410, "The verification request has expired.", title="Request Expired")
        if v.status == "failed":
            return _problem(410, "An incorrect code has been provided too many times. "
                                 "Workflow terminated.", title="Invalid Code")
        return v

    def _check(self, request_id: str, request: Request) -> Response:
        code = (request.get_json(silent=True) or {}).get("code")
        with self._lock:
            v = self._live(request_id)
            if isinstance(v, Response):
                return v
            if isinstance(code, str) and secrets.compare_digest(code, v.code):
                v.status = "completed"
                return _json({"request_id": request_id, "status": "completed"})
            v.attempts += 1
            if v.attempts >= self.max_attempts:
                v.status = "failed"
                return self._live(request_id)
        return _problem(400, "The code you provided does not match the expected value.",
                        title="Invalid Code")

    def _cancel(self, request_id: str) -> Response:
        with self._lock:
            v = self._live(request_id)
            if isinstance(v, Response):
                return v
            v.status = "cancelled"
        return Response(status=204)

    def _next_workflow(self, request_id: str) -> Response:
        with self._lock:
            v = self._live(request_id)
            if isinstance(v, Response):
                return v
            if v.step + 1 >= len(v.workflow):
                return _problem(409, "There are no more events left to trigger.")
            v.step += 1
            self._deliver(v)
        return Response(status=200)

