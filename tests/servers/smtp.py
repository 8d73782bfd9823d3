"""A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts.

    server = SmtpServer()            # plain SMTP, no auth; SmtpServer(tls=True, username=, password=)
    server.start()                   # offers STARTTLS with a trustme CA when tls=True
    ... app sends with MAIL_SERVER=server.host, MAIL_PORT=server.port ...
    mail = server.wait_for(lambda m: m.to == "ann@example.com", timeout=5)
    mail.subject, mail.sender, mail.to, mail.body, mail.html, mail.links
    server.stop()                    # the port now refuses connections (fault tests)
    server.start()                   # back on the same port

Every collected message is a ReceivedMessage, i.e. an ``email.message.EmailMessage``
(parsed with ``email.policy.default``) with helper properties and the SMTP envelope
(``envelope_from``, ``envelope_to``).  ``fail_with("451 4.3.0 Try again later")`` makes the
server answer DATA with that reply until ``reset()``; ``hold()`` keeps every RCPT waiting for its
answer until ``release()`` (a slow relay: nothing is collected from a client that gives up).
"""

import asyncio
import email
import email.policy
import re
import socket
import ssl
import threading
import time
from email.message import EmailMessage

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

_URL_RE = re.compile(r"https?://[^\s<>\"']+")


class ReceivedMessage(EmailMessage):
    """An EmailMessage as the SMTP server received it, with shortcuts for tests."""

    envelope_from: str = ""
    envelope_to: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        return str(self.get("Subject", ""))

    @property
    def sender(self) -> str:
        return str(self.get("From", ""))

    @property
    def to(self) -> str:
        """The To header as sent (addresses separated by commas)."""
        return str(self.get("To", ""))

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every envelope recipient, lower-cased."""
        return tuple(addr.lower() for addr in self.envelope_to)

    @property
    def body(self) -> str:
        """The text/plain part ('' if there is none)."""
        part = self.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        """The text/html part ('' if there is none)."""
        part = self.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    @property
    def links(self) -> list[str]:
        """Every http(s) URL in the plain-text body, in order."""
        return _URL_RE.findall(self.body)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Handler:
    """aiosmtpd handler: parses DATA into ReceivedMessage and hands it to the server."""

    def __init__(self, server: "SmtpServer"):
        self._server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        await asyncio.get_running_loop().run_in_executor(None, self._server._released.wait, 30)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        failure = self._server._failure
        if failure:
            return failure
        message = email.message_from_bytes(
            envelope.original_content or envelope.content,
            _class=ReceivedMessage,
            policy=email.policy.default,
        )
        message.envelope_from = envelope.mail_from
        message.envelope_to = tuple(envelope.rcpt_tos)
        self._server._collect(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that collects messages; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, *, tls: bool = False,
                 username: str | None = None, password: str | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.username = username
        self.password = password
        self.ca = trustme.CA() if tls else None
        self._messages: list[ReceivedMessage] = []
        self._cond = threading.Condition()
        self._failure: str | None = None
        self._released = threading.Event()
        self._released.set()
        self._controller: Controller | None = None

    # lifecycle -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> "SmtpServer":
        if self._controller is not None:
            return self
        kwargs = {}
        if self.ca is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert(self.host, "localhost").configure_cert(context)
            kwargs.update(tls_context=context, require_starttls=False)
        if self.username is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.ca is not None)
        controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                server_hostname="smtp.test", **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening: connections to the port are refused until start()."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # faults and state ------------------------------------------------------------------
    def fail_with(self, reply: str = "451 4.3.0 Temporary failure, try again later") -> None:
        """Answer every DATA command with this SMTP reply (4xx or 5xx) until reset()."""
        self._failure = reply

    def hold(self) -> None:
        """Keep every RCPT command waiting for its answer (at most 30 s) until release()."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def reset(self) -> None:
        """Forget collected messages and faults."""
        with self._cond:
            self._messages.clear()
        self._failure = None
        self._released.set()

    def ca_pem_path(self, path) -> str:
        """Write the CA that signed the STARTTLS certificate to ``path`` (tls=True only)."""
        if self.ca is None:
            raise RuntimeError("this SMTP server was started without tls=True")
        self.ca.cert_pem.write_to_path(str(path))
        return str(path)

    def app_config(self) -> dict:
        """The portal's MAIL_* keys that point at this server."""
        config = {"MAIL_BACKEND": "smtp", "MAIL_SERVER": self.host, "MAIL_PORT": self.port,
                  "MAIL_USE_TLS": self.ca is not None}
        if self.username is not None:
            config.update(MAIL_USERNAME=self.username, MAIL_PASSWORD=self.password)
        return config

    # messages ----------------------------------------------------------------------------
    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of the messages received so far, oldest first."""
        with self._cond:
            return list(self._messages)

    def wait_for(self, predicate=lambda m: True, timeout: float = 5.0) -> ReceivedMessage:
        """The first received message matching ``predicate``; waits up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self._messages:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(m.to, m.subject) for m in self._messages]
                    raise TimeoutError(f"no matching message in {timeout}s; received {seen}")
                self._cond.wait(remaining)

    def _collect(self, message: ReceivedMessage) -> None:
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.username
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)
