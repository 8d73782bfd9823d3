"""A loopback stand-in for Google's reCAPTCHA siteverify endpoint (and a tiny widget script).

    server = RecaptchaServer(secret="test-recaptcha-secret").start()
    server.app_config()   # RECAPTCHA_PUBLIC_KEY/PRIVATE_KEY/VERIFY_SERVER (+ RECAPTCHA_SCRIPT)
    token = server.issue_token()          # a response token the next siteverify accepts once
    server.requests                       # [{"secret", "response", "remoteip"}] as POSTed

POST /recaptcha/api/siteverify (form: secret, response, remoteip) answers like Google:
{"success": true, "challenge_ts": ..., "hostname": ...} or {"success": false, "error-codes":
[...]} with missing-input-secret, invalid-input-secret, missing-input-response,
invalid-input-response or timeout-or-duplicate (a token is good once). Remember that
Flask-WTF skips the check entirely while ``app.testing`` is set; tests of the captcha must
run the app with TESTING off (or call the validator path that does not look at it).

GET /recaptcha/api.js is a stand-in widget: it adds a hidden ``g-recaptcha-response`` field
holding ``server.browser_token`` (always valid, reusable) to every ``.g-recaptcha`` element,
so a browser test can submit the form. Its origin must be allowed by the page's CSP, as
Google's is in production.
"""

import datetime
import json
import secrets
import threading

from werkzeug.wrappers import Request, Response

from tests.servers.wsgi import ServedByThread, ThreadedWsgiServer

_WIDGET_JS = """(function () {
  function fill() {
    document.querySelectorAll(".g-recaptcha").forEach(function (el) {
      if (el.querySelector("[name=g-recaptcha-response]")) return;
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "g-recaptcha-response"; input.value = "%s";
      el.appendChild(input);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fill);
  else fill();
})();
"""


class RecaptchaServer(ServedByThread):
    """A fake siteverify on 127.0.0.1; see the module docstring."""

    def __init__(self, secret: str = "test-recaptcha-secret", site_key: str = "test-site-key", *,
                 host: str = "127.0.0.1", port: int = 0, hostname: str = "127.0.0.1"):
        self.secret, self.site_key, self.hostname = secret, site_key, hostname
        self.browser_token = "browser-" + secrets.token_urlsafe(16)
        self._lock = threading.Lock()
        self._http = ThreadedWsgiServer(self._wsgi, host=host, port=port)
        self.reset()

    @property
    def verify_url(self) -> str:
        return f"{self._http.url}/recaptcha/api/siteverify"

    @property
    def script_url(self) -> str:
        return f"{self._http.url}/recaptcha/api.js"

    def app_config(self) -> dict:
        return {"RECAPTCHA_PUBLIC_KEY": self.site_key, "RECAPTCHA_PRIVATE_KEY": self.secret,
                "RECAPTCHA_VERIFY_SERVER": self.verify_url, "RECAPTCHA_SCRIPT": self.script_url}

    def reset(self) -> None:
        """Forget issued tokens, seen requests and faults."""
        with self._lock:
            self._tokens: dict[str, dict] = {}
            self._used: set[str] = set()
            self._requests: list[dict] = []
            self._fail_status: int | None = None

    def issue_token(self, *, score: float | None = None, action: str | None = None) -> str:
        """A token that verifies once; score/action make it look like reCAPTCHA v3."""
        token = secrets.token_urlsafe(24)
        extra = {k: v for k, v in (("score", score), ("action", action)) if v is not None}
        with self._lock:
            self._tokens[token] = extra
        return token

    def fail_with(self, status: int = 500) -> None:
        """Answer siteverify with this HTTP status until reset()."""
        with self._lock:
            self._fail_status = status

    @property
    def requests(self) -> list[dict]:
        with self._lock:
            return list(self._requests)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        if request.path == "/recaptcha/api.js":
            response = Response(_WIDGET_JS % self.browser_token, content_type="text/javascript")
        elif request.path == "/recaptcha/api/siteverify" and request.method == "POST":
            response = self._siteverify(request.values.to_dict())
        else:
            response = Response("not found", 404)
        return response(environ, start_response)

    def _siteverify(self, form: dict) -> Response:
        secret, token = form.get("secret", ""), form.get("response", "")
        with self._lock:
            self._requests.append({"secret": secret, "response": token,
                                   "remoteip": form.get("remoteip")})
            if self._fail_status is not None:
                return Response("error", self._fail_status)
            errors = []
            if not secret:
                errors.append("missing-input-secret")
            elif not secrets.compare_digest(secret, self.secret):
                errors.append("invalid-input-secret")
            extra = {}
            if not token:
                errors.append("missing-input-response")
            elif token in self._used:
                errors.append("timeout-or-duplicate")
            elif token == self.browser_token:
                pass
            elif token not in self._tokens:
                errors.append("invalid-input-response")
            elif not errors:
                extra = self._tokens.pop(token)
                self._used.add(token)
        if errors:
            return _json({"success": False, "error-codes": errors})
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _json({"success": True, "challenge_ts": now, "hostname": self.hostname, **extra})


def _json(body: dict) -> Response:
    return Response(json.dumps(body), content_type="application/json")
