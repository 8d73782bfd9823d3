"""A loopback HTTPS server speaking Vonage's SMS, Verify v2 and Number Insight Standard APIs, for
the real `vonage` SDK.

    server = VonageServer().start()        # TLS certificate from a trustme CA
    client = vonage.Vonage(Auth(api_key=server.api_key, api_secret=server.api_secret),
                           HttpClientOptions(api_host=server.address, rest_host=server.address))
    # the process must trust server.ca: REQUESTS_CA_BUNDLE=server.ca_path in the environment
    # (requests' Session, which the SDK uses, reads it; it beats Session.verify, and this
    # machine already sets it to the system bundle), or the portal's VONAGE_CA_BUNDLE key
    server.sent                            # [{"to", "from", "text", "channel", "request_id", ...}]
    server.verifications[request_id]       # Verification(number, code, brand, status, attempts...)
    server.code_for("447700900001")        # the code the phone received last
    server.set_line_type("12015550123", "landline"); server.lookups  # ["12015550123", ...]
    server.fail_with(429); server.fail_lookups(5); server.hang(); server.stop(); server.reset()

What the SDK (vonage 4.9, vonage-http-client 1.5) sends, and so what this server accepts:
- SMS: POST https://{rest_host}/sms/json, form body, credentials in an ``Authorization: Basic``
  header (api_key/api_secret in the body or query are accepted too). Errors are HTTP 200 with
  a non-"0" status per message (e.g. "4" Bad Credentials), as the real API does. A JSON
  Content-Type on a form body (SDK issue #323: one client used for Verify then SMS) parses as
  missing parameters, status "2".
- Verify v2: POST/DELETE https://{api_host}/v2/verify[/{id}], JSON body, ``Authorization:
  Basic`` (the SDK uses JWT only when the client has an application_id/private_key; the
  portal uses api key/secret). Errors are RFC 7807 JSON (type/title/detail/instance):
  400 wrong code; 410 on the max_attempts-th wrong code (default 3) and after, or once expired
  (channel_timeout x channels; ``expire(id)`` forces it); 404 unknown, completed ("not found
  or it has been verified already", as Vonage answers) or cancelled; 409 a verification to
  the same number is still running (the body carries its ``request_id``); 422 invalid
  parameters; 401 bad credentials. The code is digits of code_length (default 4); SMS and
  voice deliveries land in ``sent``; POST .../{id}/next_workflow moves to the next channel.
- Number Insight Standard: GET https://{api_host}/ni/standard/json?number=..., credentials in an
  ``Authorization: Basic`` header (what the SDK sends) or as api_key/api_secret query
  parameters. Always HTTP 200 with the outcome in "status", as Vonage answers: 0 with
  current_carrier.network_type (the one ``set_line_type`` gave the number, else "unknown"), 3 for
  a number that is not E.164 digits, 4 for bad credentials, or ``fail_lookups(status)``'s status
  (1 throttled, 5 internal error, 9 quota exceeded, 19 facility not allowed), or
  ``garble_lookups(body)``'s body, however broken. ``lookups``
  lists the numbers asked about with good credentials.
Faults: ``fail_with(status)`` answers every request with that status in Vonage's error format
(no Retry-After header, so urllib3 does not retry); ``hang()`` holds every request open until
``reset()``/``stop()`` (the client's timeout fires); ``stop()`` refuses connections.
"""

import ssl
import tempfile
import time
from pathlib import Path

import trustme

from tests.servers.vonage_api import Verification, VonageApi
from tests.servers.wsgi import ServedByThread, ThreadedWsgiServer

__all__ = ["Verification", "VonageServer"]


class VonageServer(ServedByThread, VonageApi):
    """The fake Vonage on a TLS port; see the module docstring."""

    def __init__(self, api_key: str = "test-api-key", api_secret: str = "test-api-secret", *,
                 host: str = "127.0.0.1", port: int = 0, max_attempts: int = 3,
                 allow_concurrent: bool = False):
        super().__init__(api_key, api_secret, max_attempts=max_attempts,
                         allow_concurrent=allow_concurrent)
        self.ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(host, "localhost").configure_cert(context)
        self._http = ThreadedWsgiServer(self._wsgi, host=host, port=port, ssl_context=context)
        self._dir = tempfile.TemporaryDirectory(prefix="fake-vonage-")
        self.ca_path = self.write_ca_pem(Path(self._dir.name) / "vonage-ca.pem")

    # lifecycle and wiring --------------------------------------------------------------
    def stop(self) -> None:
        """Stop listening (connections are refused) until start(), on the same port."""
        self._hanging = False
        self._release.set()
        super().stop()

    @property
    def host(self) -> str:
        return self._http.host

    @property
    def address(self) -> str:
        """host:port, the form the SDK's api_host/rest_host take."""
        return f"{self.host}:{self.port}"

    def write_ca_pem(self, path) -> str:
        """Write the CA certificate (PEM) to ``path`` for REQUESTS_CA_BUNDLE; returns the path."""
        self.ca.cert_pem.write_to_path(str(path))
        return str(path)

    def app_config(self) -> dict:
        """The portal's config keys that point the Vonage backend at this server."""
        return {"SMS_BACKEND": "vonage", "VONAGE_API_KEY": self.api_key,
                "VONAGE_API_SECRET": self.api_secret, "VONAGE_API_HOST": self.address,
                "VONAGE_REST_HOST": self.address, "VONAGE_CA_BUNDLE": self.ca_path}

    # faults and state ---------------------------------------------------------------------
    def fail_with(self, status: int, times: int | None = None) -> None:
        """Answer the next ``times`` requests (all if None) with this HTTP status."""
        with self._lock:
            self._fail_status, self._fail_times = status, times

    def set_line_type(self, number: str, network_type: str) -> None:
        """What Number Insight says of a number ('+' optional): "mobile", "landline", "virtual"..."""
        with self._lock:
            self._line_types[number.lstrip("+")] = network_type

    def fail_lookups(self, status: int) -> None:
        """Answer every Number Insight request with this non-zero status (HTTP 200) until reset()."""
        with self._lock:
            self._lookup_status = status

    def garble_lookups(self, body: str) -> None:
        """Answer every Number Insight request with HTTP 200 and this body, whatever it is."""
        with self._lock:
            self._lookup_body = body

    def hang(self) -> None:
        """Hold every request open without answering, until reset() or stop()."""
        self._release.clear()
        self._hanging = True

    def expire(self, request_id: str) -> None:
        """Make a verification expire now, as if its channel timeouts had all run out."""
        with self._lock:
            self._verifications[request_id].expires_at = 0.0

    @property
    def sent(self) -> list[dict]:
        with self._lock:
            return list(self._sent)

    @property
    def verifications(self) -> dict[str, Verification]:
        with self._lock:
            return dict(self._verifications)

    @property
    def requests(self) -> list[dict]:
        """Every request seen: method, path, auth ("basic"/"bearer"/"body"/None), content_type."""
        with self._lock:
            return list(self._requests)

    @property
    def lookups(self) -> list[str]:
        """The numbers Number Insight was asked about (with good credentials), in order."""
        with self._lock:
            return list(self._lookups)

    def messages_to(self, number: str) -> list[dict]:
        number = number.lstrip("+")
        return [m for m in self.sent if m["to"] == number]

    def wait_for_message_to(self, number: str, timeout: float = 5.0) -> dict:
        """The latest text to `number`, waiting up to `timeout` s for one (codes a server in
        another process texts after its answer)."""
        deadline = time.monotonic() + timeout
        while not (texts := self.messages_to(number)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no text to {number} in {timeout}s")
            time.sleep(0.02)
        return texts[-1]

    def code_for(self, number: str) -> str:
        """The code of the latest verification started for this number ('+' optional)."""
        number = number.lstrip("+")
        matches = [v for v in self.verifications.values() if v.number == number]
        if not matches:
            raise LookupError(f"no verification was started for {number}")
        return matches[-1].code
