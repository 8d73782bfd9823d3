"""A browser-like HTTP client for servers on loopback (gunicorn, werkzeug): CSRF from pages, htmx headers."""

import requests

from tests.web import ALTCHA_WIDGET, altcha_payload, csrf_token_in


class LiveBrowser:
    """One person's cookie jar against `base_url`; redirects are not followed, as in WebClient."""

    def __init__(self, base_url: str, timeout: float = 30):
        self.base_url = base_url
        self.timeout = timeout
        self.http = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base_url + path, allow_redirects=False, timeout=self.timeout, **kwargs)

    def csrf_token(self, page: str) -> str:
        return csrf_token_in(self.get(page).text, page)

    def post_form(self, path: str, data: dict, page: str | None = None, **kwargs) -> requests.Response:
        """POST `data` with the CSRF token of `page` (default: `path`), solving its captcha if any."""
        html = self.get(page or path).text
        widget = ALTCHA_WIDGET.search(html)
        if widget and widget.group(2) not in data:
            answer = self.http.get(self.base_url + widget.group(1), timeout=self.timeout)
            answer.raise_for_status()
            challenge = answer.json()
            data = {**data, widget.group(2): altcha_payload(challenge)}
        return self.http.post(self.base_url + path, data={"csrf_token": csrf_token_in(html, path), **data},
                              allow_redirects=False, timeout=self.timeout, **kwargs)

    def htmx(self, path: str, page: str, data: dict | None = None, token: str | None = None
             ) -> requests.Response:
        """An htmx POST as base.html sends it (HX-Request, X-CSRFToken from `page` unless given)."""
        headers = {"HX-Request": "true", "X-CSRFToken": token or self.csrf_token(page)}
        return self.http.post(self.base_url + path, data=data or {}, headers=headers,
                              allow_redirects=False, timeout=self.timeout)

    def login(self, login: str, password: str) -> requests.Response:
        return self.post_form("/login", {"login": login, "password": password})
