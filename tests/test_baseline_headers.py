"""Security headers swept over the whole url_map: no-store, Vary, the exact CSP, secure cookies."""

from http.cookies import SimpleCookie

from tests.access_helpers import browser, rule_url

HTMX = {"HX-Request": "true"}
HTTPS_URL = "https://portal.example"

# The policy of the default configuration, directive by directive. Exact on purpose: a new origin,
# keyword or directive anywhere must be a deliberate change to this table.
EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "worker-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def _get_paths(app, ids: dict) -> list[str]:
    """One URL per GET rule (its arguments filled as test_baseline does); static files left out."""
    return [rule_url(rule, ids) for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint != "static"]


def _sweep(app, everyone, roles):
    """Every GET URL as each of `roles`, as a full page and as an htmx request:
    yields (a label naming URL, role and kind, the response)."""
    webs = {**{role: everyone[role] for role in roles if role != "anonymous"},
            **({"anonymous": browser(app)} if "anonymous" in roles else {})}
    for path in _get_paths(app, everyone["ids"]):
        for role in roles:
            for kind, headers in (("page", {}), ("htmx", HTMX)):
                response = webs[role].get(path, headers=headers)
                yield f"GET {path} as {role} ({kind}): {response.status_code}", response


def _tokens(header: str | None) -> list[str]:
    """A comma-separated header as lower-case names (`no-store`, `max-age=0` → `max-age`)."""
    return [part.split("=")[0].strip().lower() for part in (header or "").split(",") if part.strip()]


def test_every_authenticated_response_is_not_stored(app, everyone):
    """Staff and client, page and htmx, whatever the status (a 403 or 404 page is still theirs)."""
    missing, checked, ok_pages = [], 0, 0
    for label, response in _sweep(app, everyone, ("staff", "client")):
        checked += 1
        ok_pages += response.status_code == 200
        if "no-store" not in _tokens(response.headers.get("Cache-Control")):
            missing.append(f"{label}: Cache-Control {response.headers.get('Cache-Control')!r}")
    assert checked > 200 and ok_pages > 80, (checked, ok_pages)  # both still signed in
    assert missing == [], "no no-store on:\n" + "\n".join(missing)


def test_every_response_varies_on_htmx_and_cookie(app, everyone):
    """web.py adds `Vary: HX-Request, Cookie` to every non-static response, so a cache can never
    hand an htmx fragment to a full-page load (or one visitor's page to another): every GET, as
    anonymous, staff and client, page and htmx."""
    missing, checked = [], 0
    for label, response in _sweep(app, everyone, ("anonymous", "staff", "client")):
        checked += 1
        vary = _tokens(response.headers.get("Vary"))
        if "hx-request" not in vary or "cookie" not in vary:
            missing.append(f"{label}: Vary {response.headers.get('Vary')!r}")
    assert checked > 300, checked
    assert missing == [], "Vary lacks HX-Request or Cookie on:\n" + "\n".join(missing)


def _csp_directives(header: str) -> tuple[dict, list[str]]:
    """The policy as {directive: [sources]}, and the directives named more than once (a browser
    obeys the first and ignores the rest, so a repeat is a bug of its own)."""
    directives, repeated = {}, []
    for part in filter(str.strip, header.split(";")):
        name, *sources = part.split()
        name = name.lower()
        if name in directives:
            repeated.append(name)
            continue
        directives[name] = sources
    return directives, repeated


def test_every_response_has_the_exact_content_security_policy(app, everyone):
    """Default configuration (no reCAPTCHA): every GET, HTML and not, as anonymous, staff and
    client, page and htmx. script-src is 'self' alone: no other origin, no 'unsafe-inline',
    no 'unsafe-eval', no nonce or hash; objects and framing refused."""
    problems, checked, html = [], 0, 0
    for label, response in _sweep(app, everyone, ("anonymous", "staff", "client")):
        checked += 1
        html += response.mimetype == "text/html"
        header = response.headers.get("Content-Security-Policy")
        if not header:
            problems.append(f"{label}: no Content-Security-Policy")
            continue
        directives, repeated = _csp_directives(header)
        differences = [f"{name} is {directives.get(name)} not {EXPECTED_CSP.get(name)}"
                       for name in sorted(EXPECTED_CSP.keys() | directives.keys())
                       if sorted(directives.get(name) or []) != sorted(EXPECTED_CSP.get(name) or [])
                       or (name in directives) != (name in EXPECTED_CSP)]
        if repeated:
            differences.append(f"repeated directives {repeated}")
        if differences:
            problems.append(f"{label}: " + "; ".join(differences))
    assert checked > 300 and html > 200, (checked, html)
    assert problems == [], "Content-Security-Policy differs on:\n" + "\n".join(problems)


def _set_cookies(response) -> dict:
    """Every cookie a response sets, by name: its value and its attributes."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        jar = SimpleCookie()
        jar.load(header)
        cookies.update(jar)
    return cookies


def _cookie_problems(label: str, morsel) -> list[str]:
    wrong = [f"no {flag}" for flag in ("Secure", "HttpOnly") if not morsel[flag.lower()]]
    if morsel["samesite"].lower() != "lax":
        wrong.append(f"SameSite={morsel['samesite']!r} not Lax")
    return [f"{label}: cookie {morsel.key}: {', '.join(wrong)}"] if wrong else []


def _https_app(make_app):
    """The portal served at an https:// address; its test clients send every request over HTTPS
    (Flask's test client takes the scheme of a request from PREFERRED_URL_SCHEME)."""
    return make_app(PUBLIC_URL=HTTPS_URL, PREFERRED_URL_SCHEME="https")


def _https_browser(app):
    """A browser on the HTTPS portal; it sends a same-origin Referer, as Flask-WTF's strict CSRF
    check over HTTPS asks of every form post (the test client's host is localhost)."""
    web = browser(app)
    web.client.environ_base["HTTP_REFERER"] = "https://localhost/login"
    return web


def test_remember_me_login_over_https_sets_both_cookies_secure(make_app, factories):
    """A client signing in with "remember me" over HTTPS: the session cookie and the remember
    cookie, each Secure, HttpOnly and SameSite=Lax."""
    factories.client_user(email="s@example.com", password="client password 1")
    response = _https_browser(_https_app(make_app)).login("s@example.com", "client password 1", remember=True)
    assert "Strict-Transport-Security" in response.headers  # the portal saw an HTTPS request
    cookies = _set_cookies(response)
    assert {"portal_session", "portal_remember"} <= cookies.keys(), sorted(cookies)
    problems = []
    for name in ("portal_session", "portal_remember"):
        assert cookies[name].value, f"{name} is set empty (deleted) at login"
        problems += _cookie_problems("POST /login", cookies[name])
    assert problems == [], "\n".join(problems)


def test_every_cookie_over_https_is_secure_httponly_lax(app, make_app, everyone):
    """Over HTTPS, every Set-Cookie of the sign-ins (client with "remember me", staff) and of every
    GET after them, page and htmx, is Secure, HttpOnly and SameSite=Lax; and HSTS is on each."""
    https_app = _https_app(make_app)
    webs = {"staff": _https_browser(https_app), "client": _https_browser(https_app)}
    logins = {"staff": webs["staff"].login("root2", "staff password 1", remember=True),
              "client": webs["client"].login("owner@example.com", "client password 1", remember=True)}
    problems, cookies_seen = [], 0
    for role, response in logins.items():
        for morsel in _set_cookies(response).values():
            cookies_seen += 1
            problems += _cookie_problems(f"POST /login as {role}", morsel)
    swept = {**everyone, **webs}
    checked = 0
    for label, response in _sweep(https_app, swept, ("staff", "client")):
        checked += 1
        for morsel in _set_cookies(response).values():
            cookies_seen += 1
            problems += _cookie_problems(label, morsel)
        if "max-age" not in _tokens(response.headers.get("Strict-Transport-Security")):
            problems.append(f"{label}: no Strict-Transport-Security")
    assert checked > 200 and cookies_seen >= 3, (checked, cookies_seen)
    assert problems == [], "\n".join(problems)
