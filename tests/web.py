"""A Flask test client that submits forms with their CSRF token (and a solved ALTCHA), as a browser does."""

import re

import altcha

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
CSRF_REFUSAL = "Your form expired or came from elsewhere."  # the CSRF error page, not some other 400
ALTCHA_WIDGET = re.compile(r'<altcha-widget challenge="([^"]+)" name="([^"]+)"')


def solve_altcha(client, challenge_url: str) -> str:
    """Fetch a challenge and solve it as the widget's worker would; returns the payload."""
    return altcha_payload(client.get(challenge_url).get_json())


def altcha_payload(challenge: dict) -> str:
    """The widget's answer to a challenge (as JSON from the portal's challenge URL)."""
    challenge = altcha.Challenge.from_dict(challenge)
    return altcha.Payload(challenge, altcha.solve_challenge(challenge)).to_base64()


def csrf_token_in(html: str, page_url: str) -> str:
    """The CSRF token of a page: a form's hidden field, or the htmx header on <body>."""
    match = CSRF_FIELD.search(html) or CSRF_HEADER.search(html)
    assert match, f"no CSRF token on {page_url}"
    return next(group for group in match.groups() if group) if match.re is CSRF_FIELD else match.group(1)


class WebClient:
    """Wraps `app.test_client()`; `post_form` fetches the page first and sends its token."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def _page(self, page_url: str) -> tuple[str, str]:
        html = self.client.get(page_url).get_data(as_text=True)
        return csrf_token_in(html, page_url), html

    def csrf_token(self, page_url: str) -> str:
        return self._page(page_url)[0]

    def post_form(self, url: str, data: dict, page_url: str | None = None, **kwargs):
        """POST `data` to `url` with the CSRF token of `page_url` (default: `url`); a captcha on
        that page is solved unless `data` already answers it."""
        token, html = self._page(page_url or url)
        widget = ALTCHA_WIDGET.search(html)
        if widget and widget.group(2) not in data:
            data = {**data, widget.group(2): solve_altcha(self.client, widget.group(1))}
        return self.client.post(url, data={"csrf_token": token, **data}, **kwargs)

    def htmx(self, method: str, url: str, page_url: str, data: dict | None = None, **kwargs):
        """An htmx request: HX-Request header and the token in X-CSRFToken, as base.html sends it."""
        token = self.csrf_token(page_url)
        headers = {"HX-Request": "true", "X-CSRFToken": token, **kwargs.pop("headers", {})}
        return self.client.open(url, method=method, data=data or {}, headers=headers, **kwargs)

    def login(self, login: str, password: str, remember: bool = False):
        """Sign in; the password is kept for the forms that ask it again (`self.password`)."""
        self.password = password
        data = {"login": login, "password": password}
        if remember:
            data["remember"] = "y"
        response = self.post_form("/login", data)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return response
