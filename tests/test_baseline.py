"""Security baseline sweeps over the whole url_map: CSRF on every state change, no GET changes state,
labels and errors that belong to their fields."""

from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.services import settings
from tests.access_helpers import browser, rule_url
from tests.web import CSRF_HEADER, CSRF_REFUSAL, WebClient

XSS = '<script>alert("x")</script>'  # typed where a name, an agent or a search term goes

# Written by reads on purpose: a session's last use (at most every SESSION_TOUCH_SECONDS).
TOUCHED_BY_READS = {("user_session", "last_seen_at")}


def _contents() -> dict:
    """Every row of every table (but the columns reads touch), so an UPDATE shows as well as an INSERT."""
    db.session.commit()
    contents = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if (table.name, c.name) not in TOUCHED_BY_READS]
        contents[table.name] = sorted(map(repr, db.session.execute(select(*columns)).all()))
    return contents


def test_every_post_route_refuses_a_request_without_csrf_token(app, everyone):
    """Forms and htmx posts alike; the API alone is exempt (it never trusts a cookie)."""
    accepted, checked = [], 0
    for rule in app.url_map.iter_rules():
        if not ({"POST", "PUT", "PATCH", "DELETE"} & rule.methods) or rule.endpoint.startswith("api."):
            continue
        path = rule_url(rule, everyone["ids"])
        checked += 1
        for who in ("staff", "client"):
            for headers in ({}, {"HX-Request": "true"}):
                method = sorted({"POST", "PUT", "PATCH", "DELETE"} & rule.methods)[0]
                response = everyone[who].client.open(path, method=method, headers=headers, data={})
                if response.status_code != 400 or CSRF_REFUSAL not in response.get_data(as_text=True):
                    accepted.append(f"{method} {path} as {who} hx={bool(headers)}: {response.status_code}")
    assert checked > 40 and accepted == []


def test_every_page_post_refuses_a_json_body(app, everyone):
    """Pages read forms only. Flask-WTF would validate a JSON body that the rate limits and the
    captcha (which read the form) never see, so a JSON sign-in would escape both: 415, even with
    a valid CSRF token. The API alone takes JSON."""
    accepted, checked = [], 0
    anonymous = browser(app)
    for rule in app.url_map.iter_rules():
        if not ({"POST", "PUT", "PATCH", "DELETE"} & rule.methods) or rule.endpoint.startswith("api."):
            continue
        path = rule_url(rule, everyone["ids"])
        checked += 1
        method = sorted({"POST", "PUT", "PATCH", "DELETE"} & rule.methods)[0]
        for who, web in (("staff", everyone["staff"]), ("client", everyone["client"]), ("anonymous", anonymous)):
            token = web.csrf_token("/login" if who == "anonymous" else "/settings/general")
            response = web.client.open(path, method=method, json={"login": "x", "password": "y"},
                                       headers={"X-CSRFToken": token})
            if response.status_code != 415 or "Reload the page and send the form again." not in response.get_data(as_text=True):
                accepted.append(f"{method} {path} as {who}: {response.status_code}")
    assert checked > 40 and accepted == []


def test_no_get_changes_the_database(app, everyone):
    """Every GET page and fragment, as staff and as a client: every row of every table stays as it was."""
    changed, checked = [], 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = rule_url(rule, everyone["ids"])
        checked += 1
        for who in ("staff", "client"):
            before = _contents()
            everyone[who].get(path)
            after = _contents()
            if before != after:
                diff = {t: (set(after[t]) - set(before[t])) or (set(before[t]) - set(after[t]))
                        for t in before if before[t] != after[t]}
                changed.append(f"GET {path} as {who}: {diff}")
    assert checked > 50 and changed == []


ODD_QUERY_VALUES = ["abc", "-1", "99999999999999999999", "\x00", "%_", "' or 1=1--", "ü" * 300,
                    "²", "user:²", "user:1099511627776"]  # "²".isdigit() is True, int("²") fails


def test_odd_query_strings_never_make_a_500(app, everyone):
    """Searches, filters and page cursors of every page, with values nobody should send."""
    failures, checked = [], 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "dev.outbox"):
            continue
        path = rule_url(rule, everyone["ids"])
        checked += 1
        for key in ("q", "after", "before", "event", "action", "actor", "target", "next"):
            for value in ODD_QUERY_VALUES:
                response = everyone["staff"].get(path, query_string={key: value})
                if response.status_code >= 500:
                    failures.append(f"GET {path}?{key}={value[:20]!r}: {response.status_code}")
        # keys url_for takes for itself, beside a cursor that draws a pager link
        response = everyone["staff"].get(path, query_string={"before": "2147483647", "endpoint": "x",
                                                             "_external": "1", "_anchor": "x"})
        if response.status_code >= 500:
            failures.append(f"GET {path} with url_for's own keys: {response.status_code}")
    assert checked > 50 and failures == []


ODD_FORM_VALUES = ["", "abc", "99999999999999999999", "\x00", "ü" * 3000, "²", "/" + "a" * 400]
FORM_FIELDS = [  # the names the portal's forms use, each sent with every odd value at once
    "login", "email", "name", "password", "confirm", "current_password", "phone", "code", "next",
    "days", "scopes", "role", "access_group", "full_access", "groups", "functions", "modules",
    "denied", "channel", "tariff_id", "brand", "code_length", "countries", "regex", "mobile_only",
    "retention_days", "client_name", "text", "effective", "title", "required", "identifier", "version",
    "min_length", "max_length", "history", "after_failures", "basis", "enabled", "decision",
]


def test_odd_form_input_never_makes_a_500(app, everyone):
    """Every form route, as staff and as a client, with a valid token and nonsense in every field."""
    for key, value in list(app.config.items()):
        if key.startswith(("RATELIMIT_", "FRAUD_SMS")) and isinstance(value, str) and " per " in value:
            app.config[key] = "100000 per minute"  # this test sends far more than a person would
    settings.update({"lockout.account_failures": 0, "lockout.ip_failures": 100000})  # wrong passwords galore
    db.session.commit()
    failures, checked = [], 0
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.startswith("api."):
            continue
        path = rule_url(rule, everyone["ids"])
        checked += 1
        for login, password in (("root2", "staff password 1"), ("owner@example.com", "client password 1")):
            for value in ODD_FORM_VALUES:
                web = browser(app, login, password)  # a fresh sign-in: some posts end the session
                data = {"csrf_token": web.csrf_token("/settings/general"),
                        **dict.fromkeys(FORM_FIELDS, value)}
                response = web.client.post(path, data=data)
                if response.status_code >= 500:
                    failures.append(f"POST {path} as {login} with {value[:20]!r}")
    assert checked > 40 and failures == []


class _FormMarkup(HTMLParser):
    """Of one page: the ids, the labels' targets, the fields a person types into (and which sit
    inside a <label>), every field by name, and the texts of the <p> elements that have an id."""

    def __init__(self):
        super().__init__()
        self.ids, self.label_targets, self.inputs, self.wrapped = [], set(), [], set()
        self.fields, self.texts, self._open_labels, self._open_texts = {}, {}, 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "label":
            self._open_labels += 1
            if attrs.get("for"):
                self.label_targets.add(attrs["for"])
        elif tag in ("input", "select", "textarea"):
            if attrs.get("name"):
                self.fields.setdefault(attrs["name"], attrs)
            if attrs.get("type") not in UNLABELLED_INPUTS:
                self.inputs.append(attrs)
                if self._open_labels:
                    self.wrapped.add(len(self.inputs) - 1)
        elif tag == "p" and attrs.get("id"):
            self._open_texts.append(attrs["id"])
            self.texts[attrs["id"]] = ""

    def handle_data(self, data):
        for element_id in self._open_texts:
            self.texts[element_id] += data

    def handle_endtag(self, tag):
        if tag == "label" and self._open_labels:
            self._open_labels -= 1
        elif tag == "p" and self._open_texts:
            self._open_texts.pop()


UNLABELLED_INPUTS = {"hidden", "submit", "button"}


def test_every_field_has_its_own_label(app, everyone):
    """Every GET page: ids are unique, those of the CSRF fields and buttons of its several forms
    too, and each field a person types into has a <label> of its own (a repeated id sends two
    labels to the first field and leaves the second unnamed)."""
    problems, checked = [], 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = rule_url(rule, everyone["ids"])
        for who in ("staff", "client"):
            response = everyone[who].get(path)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            checked += 1
            page = _FormMarkup()
            page.feed(response.get_data(as_text=True))
            repeated = sorted({i for i in page.ids if page.ids.count(i) > 1})
            unlabelled = [attrs.get("name") for n, attrs in enumerate(page.inputs)
                          if n not in page.wrapped and attrs.get("id") not in page.label_targets
                          and not attrs.get("aria-label")]
            if repeated or unlabelled:
                problems.append(f"GET {path} as {who}: repeated ids {repeated}, unlabelled {unlabelled}")
    assert checked > 40 and problems == [], "\n".join(problems)


BAD_INPUT = [  # who, the form's URL, what is sent, the fields that must carry an error
    (None, "/register", {"email": "not an address", "name": "Kept Name", "password": "x",
                         "confirm": "y"}, ["email", "confirm"]),
    ("client", "/settings/general/password", {"current_password": "wrong one", "password": "violet kettle moonlight",
                                              "confirm": "violet kettle moonlight"}, ["current_password"]),
    ("client", "/settings/phone", {"phone": "garbage", "current_password": "client password 1"}, ["phone"]),
    ("staff", "/admin/administrators/new", {"login": "", "email": "not an address", "name": "Kept Name"},
     ["login", "email"]),
    ("staff", "/admin/settings/security", {"password__min_length": "3"}, ["password__min_length"]),
    ("staff", "/admin/fraud-protection", {"brand": "", "code_length": "99"}, ["brand", "code_length"]),
]


@pytest.mark.parametrize("who, url, data, fields", BAD_INPUT, ids=[case[1] for case in BAD_INPUT])
def test_bad_input_is_refused_next_to_its_field(app, everyone, who, url, data, fields):
    """The message sits in the field's own error element, which the field names in aria-describedby
    (screen readers read it with the field), and the field is marked invalid."""
    web = everyone[who] if who else browser(app)
    page_url = "/settings/general" if url == "/settings/phone" else url
    response = web.post_form(url, data, page_url=page_url)
    assert response.status_code in (200, 422), response.status_code
    page = _FormMarkup()
    page.feed(response.get_data(as_text=True))
    for name in fields:
        field = page.fields[name]
        error_id = f"{field['id']}-error"
        assert field.get("aria-invalid") == "true" and field.get("aria-describedby") == error_id, (name, field)
        assert page.texts.get(error_id, "").strip(), (name, "no message in its error element")
    assert "Kept Name" in response.get_data(as_text=True) or "name" not in data


def test_every_area_hands_htmx_its_csrf_token_in_hx_headers(app, everyone):
    """Not every htmx request is a form (Clear data's progress steps itself): the token on <body>
    is the one they send, and it is accepted."""
    for who, page in (("staff", "/admin/"), ("client", "/home"), ("client", "/settings/security")):
        match = CSRF_HEADER.search(everyone[who].get(page).get_data(as_text=True).split("<body", 1)[1].split(">")[0])
        assert match, f"no hx-headers token on {page}"
        response = everyone[who].client.post("/settings/security/sessions/end-others",
                                             headers={"HX-Request": "true", "X-CSRFToken": match.group(1)})
        assert response.status_code == 302 and CSRF_REFUSAL not in response.get_data(as_text=True), page


def test_user_typed_text_is_escaped_wherever_it_is_shown(app, staff_web, factories):
    """Names, client names, search terms, auth-log agents and flash messages are text, never markup."""
    member = factories.client_user(email="xss@example.com", name=XSS, password="client password 1")
    member.client.name = XSS
    db.session.commit()
    browser = WebClient(app.test_client())
    browser.client.environ_base["HTTP_USER_AGENT"] = XSS
    browser.post_form("/login", {"login": "xss@example.com", "password": "client password 1"})
    pages = {
        "client home": browser.get("/home"),
        "clients list": staff_web.get("/admin/clients"),
        "auth log": staff_web.get("/admin/auth-log"),
        "search term": staff_web.get("/admin/users", query_string={"q": XSS}),
        "flash": staff_web.post_form("/admin/consent/documents", {"title": XSS}, page_url="/admin/consent",
                                     follow_redirects=True),
    }
    for label, response in pages.items():
        body = response.get_data(as_text=True)
        assert XSS not in body, label
        assert "&lt;script&gt;" in body, label
