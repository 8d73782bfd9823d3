"""In Chromium, every GET page each role can open, with its list paging, search, filters, live
password check and captcha: no console error, CSP violation, failed request or failing subresource."""

import re
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.models import Order, User
from portal.services import demo, gdpr, modules
from portal.services.access import seed_groups
from portal.services.consent import documents
from portal.services.registration import default_provider
from tests.access_helpers import PASSWORD, STRING_ARGUMENT, rule_url
from tests.browser.altcha import solve_altcha
from tests.browser.problems import Place, Recorder
from tests.browser.signin import log_in

# Not pages, or pages a browser does not open by typing their address.
SKIPPED_ENDPOINTS = {
    "static": "files, not pages",
    "dev.outbox": "the development outbox",
    "auth.oauth_start": "leaves for Google or Keycloak",
    "auth.oauth_callback": "the answer of Google or Keycloak",
    "auth.altcha_challenge": "JSON for the captcha widget",
}
SKIPPED_BLUEPRINTS = ("api.",)  # JSON

HTMX_IDLE = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"

# What a person does on a page that swaps content in place; the first match of each, when present.
INTERACTIONS = {
    "paging": ("nav.pager a", lambda element: element.click()),
    "search": ("input[type=search][hx-get]", lambda element: element.fill("a")),
    "filter": ("select[hx-get]:has(option:nth-child(2))", lambda element: element.select_option(index=1)),
    "password check": ("input[data-hx-post$='/password/check']", lambda element: element.fill("abc")),
}

def _demo_data(factories) -> dict:
    """The demo data set, a full-access administrator, enough orders to page a client's list,
    a clear-data job on a demo client; returns logins and the ids URLs point at."""
    logins = dict(demo.seed_demo())
    factories.staff(login="boss", password=PASSWORD, full_access=True)  # no staff 2FA from here on
    modules.install(modules.GDPR_CLEAR_DATA)
    owner = _user("owner@example.com")
    tariff_id = db.session.execute(select(Order.tariff_id).where(Order.client_id == owner.client_id)).scalar()
    db.session.add_all(Order(client_id=owner.client_id, user_id=owner.id, tariff_id=tariff_id, status="new",
                             price=Decimal("3.00")) for _ in range(50))
    cleared = _user("client5@example.com").client
    job = gdpr.start(cleared, _user("boss"), PASSWORD, cleared.name)
    ids = {"user_id": _user("colleague@example.com").id, "client_id": owner.client_id,
           "group_id": seed_groups()["Finance"].id, "provider_id": default_provider().id,
           "document_id": documents()[0].id, "tariff_id": tariff_id, "job_id": job.id}
    by_endpoint = {"admin.edit_administrator": {"user_id": _user("finance").id},
                   "gdpr.clear_data_progress": {"client_id": cleared.id}}
    db.session.commit()
    return {"roles": {"administrator": ("boss", PASSWORD),
                      "client owner": ("owner@example.com", logins["owner@example.com"]),
                      "client user without rights": ("colleague@example.com", logins["colleague@example.com"]),
                      "anonymous visitor": None},
            "ids": ids, "by_endpoint": by_endpoint}


def _user(login: str) -> User:
    return db.session.execute(select(User).where(User.login == login)).scalar_one()


def _paths(app, ids: dict, by_endpoint: dict) -> list[tuple[str, str]]:
    """(endpoint, path) of every GET rule worth opening, ids filled with real rows."""
    paths = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if ("GET" not in rule.methods or rule.endpoint in SKIPPED_ENDPOINTS
                or rule.endpoint.startswith(SKIPPED_BLUEPRINTS)):
            continue
        path = rule_url(rule, {**ids, **by_endpoint.get(rule.endpoint, {})})
        if STRING_ARGUMENT not in path:  # a one-time link: its secret is mailed, texted or printed
            paths.append((rule.endpoint, path))
    return paths


def _opens(context, url: str) -> bool:
    """The role is shown this page itself: 200 with HTML, not a refusal or a redirect elsewhere."""
    answer = context.request.get(url, max_redirects=0)
    return answer.status == 200 and answer.headers.get("content-type", "").startswith("text/html")


def _interact(page, done: dict) -> None:
    """Each in-place swap the page offers, once, waiting for htmx to finish; the captcha solved."""
    for kind, (selector, act) in INTERACTIONS.items():
        element = page.locator(selector).first
        if not element.count() or not element.is_visible():
            continue
        with page.expect_response(lambda response: response.request.headers.get("hx-request") == "true"):
            act(element)
        page.wait_for_function(HTMX_IDLE)
        done[kind] = done.get(kind, 0) + 1
    if page.locator("altcha-widget").count():  # its proof of work runs in workers of its own
        solve_altcha(page)
        done["captcha"] = done.get("captcha", 0) + 1


def _sweep_role(browser_instance, server, role: str, credentials, paths, done: dict):
    """Sign in (unless anonymous) in a context of the role's own, open each page it may, act on it;
    returns (problems, the paths opened)."""
    context = browser_instance.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    recorder = Recorder(page, role)
    try:
        if credentials:
            log_in(page, server, *credentials)
            page.wait_for_url(re.compile(r"/(admin/|home)$"))
            page.wait_for_load_state("networkidle")
            recorder.read_violations()
        opened = []
        for endpoint, path in paths:
            if not _opens(context, server.url + path):
                continue
            recorder.where = Place(path, endpoint)
            page.goto(server.url + path)
            page.wait_for_load_state("networkidle")  # the favicon and load-triggered htmx come after load
            _interact(page, done)
            page.wait_for_load_state("networkidle")
            recorder.read_violations()
            opened.append(path)
        return recorder.found, opened
    finally:
        context.close()


def test_no_page_logs_a_console_error_or_csp_violation(live_server, browser_instance, factories):
    """An administrator with Full access, a client owner, a client user without rights and an
    anonymous visitor each open every page the url_map gives them (200, not a redirect), in a
    browser context of their own; what is found is printed."""
    data = _demo_data(factories)
    server = live_server()
    paths = _paths(server.app, data["ids"], data["by_endpoint"])
    problems, opened, done = [], {}, {}
    for role, credentials in data["roles"].items():
        found, opened[role] = _sweep_role(browser_instance, server, role, credentials, paths, done)
        problems += found
    for role, pages in opened.items():
        print(f"{role}: {len(pages)} pages: {' '.join(pages)}")
    print(f"interactions: {done}")
    print("\n".join(map(_line, problems)) or "no problems")
    assert len(opened["administrator"]) > 25 and len(opened["client owner"]) > 8, opened
    assert len(opened["client user without rights"]) >= 4 and len(opened["anonymous visitor"]) >= 3, opened
    assert done.keys() == {*INTERACTIONS, "captcha"}, done
    assert problems == [], "\n".join(map(_line, problems))


def _line(problem) -> str:
    role, where, text = problem
    return f"{role} at {where.path} ({where.endpoint}): {text}"
