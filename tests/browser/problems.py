"""What a browser page shows wrong: console errors, uncaught exceptions, CSP violations, failed requests and subresources."""

from typing import NamedTuple

# Stores CSP violations on the window; read (and emptied) before the page is left.
RECORD_VIOLATIONS = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.effectiveDirective} refused ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || location.href}:${event.lineNumber}:${event.columnNumber}`
    + (event.sample ? ` (${event.sample})` : ""));
});"""
READ_VIOLATIONS = "() => new Promise(done => setTimeout(() => done(window.__cspViolations.splice(0)), 50))"

SUBRESOURCE_TYPES = {"stylesheet", "script", "image", "font", "other", "fetch", "xhr", "media"}


class Place(NamedTuple):
    """Where a problem showed: the path opened and the endpoint it belongs to."""

    path: str
    endpoint: str


class Recorder:
    """Everything wrong that one browser page shows, labelled with the role and page at the time."""

    def __init__(self, page, role: str):
        self.page, self.role, self.where, self.found = page, role, Place("/login", "auth.login"), []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda message: message.type == "error" and self.add(
            f"console error: {message.text} ({message.location.get('url')}:{message.location.get('lineNumber')})"))
        page.on("pageerror", lambda error: self.add(f"uncaught: {error}"))
        # ERR_ABORTED: the browser dropped a request still in flight when the page moved on.
        page.on("requestfailed", lambda request: request.failure != "net::ERR_ABORTED" and self.add(
            f"request failed: {request.method} {request.url} ({request.resource_type}): {request.failure}"))
        page.on("response", lambda response: response.status >= 400
                and response.request.resource_type in SUBRESOURCE_TYPES
                and self.add(f"{response.status} for {response.request.resource_type} {response.url}"))

    def add(self, text: str) -> None:
        self.found.append((self.role, self.where, text))

    def read_violations(self) -> None:
        for text in self.page.evaluate(READ_VIOLATIONS):
            self.add(f"CSP violation: {text}")
