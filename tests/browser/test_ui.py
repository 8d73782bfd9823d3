"""In a real browser: htmx swaps under the strict CSP log nothing, the favicon loads, narrow screens do not scroll sideways."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.access_helpers import PASSWORD
from tests.browser.problems import Recorder
from tests.browser.signin import log_in

CLIENT_PASSWORD = "client password 1"
STYLESHEET = Path(__file__).resolve().parents[2] / "portal" / "static" / "css" / "portal.css"


def sign_in(page, server, login, password):
    log_in(page, server, login, password)
    page.wait_for_url(re.compile(r"/(admin/|home)$"))


def test_htmx_swaps_log_no_console_error_or_csp_violation(live_server, page, factories):
    """Deny access toggle, the Rights form's save and a list search: each swaps a fragment in
    place; none may break the Content-Security-Policy or log an error (a missing favicon is one)."""
    server = live_server()
    factories.staff(login="boss", password=PASSWORD, full_access=True)
    target = factories.staff(login="leaver", password=PASSWORD)
    owner = factories.client_user(email="owner@example.com")
    member = factories.client_user(email="member@example.com", client=owner.client)
    recorder = Recorder(page, "staff")
    sign_in(page, server, "boss", PASSWORD)

    page.goto(server.url + "/admin/administrators")
    row = page.locator(f"#admin-{target.id}")
    row.get_by_label("Deny access").check()
    expect(row).to_have_class(re.compile("denied"))
    row.get_by_label("Deny access").uncheck()
    expect(row).not_to_have_class(re.compile("denied"))

    page.goto(server.url + f"/admin/users/{member.id}/rights")
    page.locator("#rights-form input[name=rights]:not([disabled])").first.check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved")

    page.goto(server.url + "/admin/users")
    page.get_by_label("Search").fill("mem")
    expect(page.locator("#results").get_by_text("owner@example.com")).to_have_count(0)
    expect(page.locator("#results").get_by_text("member@example.com")).to_be_visible()
    page.go_back()  # htmx restores the list from its history cache
    expect(page.locator("#results").get_by_text("owner@example.com")).to_be_visible()

    page.wait_for_load_state("networkidle")  # the favicon is fetched after the page
    recorder.read_violations()
    assert recorder.found == []


def test_the_favicon_is_the_portals_svg(live_server, page):
    server = live_server()
    page.goto(server.url + "/login")
    icon = page.locator("link[rel=icon]")
    assert icon.get_attribute("type") == "image/svg+xml"
    answer = page.request.get(server.url + icon.get_attribute("href"))
    assert answer.ok and answer.headers["content-type"].startswith("image/svg+xml")
    legacy = page.request.get(server.url + "/favicon.ico")
    assert legacy.ok and legacy.url.endswith(icon.get_attribute("href"))
    assert legacy.body() == answer.body()


def _check_no_sideways_scroll(page, url: str) -> None:
    """The page is no wider than the window, and the brand, every menu entry and Log out are on screen."""
    page.goto(url)
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, url
    header = page.locator("header.topbar")
    shown = [header.locator(".brand"), header.get_by_role("button", name="Log out"),
             *header.get_by_role("navigation", name="Main").get_by_role("link").all()]
    assert len(shown) > 3
    for element in shown:
        box = element.bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= width, (url, element)


@pytest.mark.parametrize("width", [375, 768])
def test_narrow_screens_do_not_scroll_sideways(live_server, page, factories, width):
    server = live_server()
    factories.staff(login="boss", password=PASSWORD, full_access=True)
    factories.staff(login="a-rather-long-administrator-login", password=PASSWORD,
                    email="a.rather.long.address@staff.example.com")
    owner = factories.client_user(email="owner@example.com", password=CLIENT_PASSWORD)
    factories.client_user(email="member.with.a.long.address@example.com", client=owner.client)
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, server, "boss", PASSWORD)
    _check_no_sideways_scroll(page, server.url + "/admin/administrators")
    brand = page.locator("header .brand").bounding_box()
    nav = page.get_by_role("navigation", name="Main").bounding_box()
    assert nav["y"] >= brand["y"] + brand["height"]  # the menu wraps below the brand, not beside it
    _check_no_sideways_scroll(page, server.url + f"/admin/clients/{owner.client_id}")

    page.context.clear_cookies()
    sign_in(page, server, "owner@example.com", CLIENT_PASSWORD)
    _check_no_sideways_scroll(page, server.url + "/users")


# How many lines the text of an element takes: its fragments' distinct tops.
LINES_OF_TEXT = """element => {
  const range = document.createRange();
  range.selectNodeContents(element);
  return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size;
}"""


def test_a_date_in_a_table_stays_on_one_line_on_a_phone(live_server, page, factories):
    """At 375 px a squeezed table must not break "2026-11-29 08:18" at its hyphens: the table
    scrolls inside its card instead, and the page still does not scroll sideways."""
    server = live_server()
    factories.staff(login="boss", password=PASSWORD, full_access=True)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, server, "boss", PASSWORD)
    for path, column in (("/admin/auth-log", "Time (UTC)"), ("/settings/security", "Signed in")):
        page.goto(server.url + path)
        table = page.locator("table", has=page.get_by_role("columnheader", name=column))
        headers = table.get_by_role("columnheader").all_inner_texts()
        index = [header.casefold() for header in headers].index(column.casefold())
        cell = table.locator("tbody tr").first.locator("td").nth(index)
        expect(cell).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"))
        assert cell.evaluate(LINES_OF_TEXT) == 1, (path, cell.inner_text())
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path


def test_a_save_that_changes_nothing_is_told_in_the_information_colour(live_server, page, factories):
    """Nothing was done and nothing went wrong: neither success green nor the bare outline of no style."""
    server = live_server()
    factories.client_user(email="owner@example.com", password=CLIENT_PASSWORD)
    sign_in(page, server, "owner@example.com", CLIENT_PASSWORD)
    page.goto(server.url + "/settings/general")
    page.locator("#profile").get_by_role("button", name="Save").click()
    told = page.get_by_text("Nothing changed.")
    expect(told).to_have_class(re.compile(r"\bflash-info\b"))
    accent = re.search(r"--accent: #([0-9a-f]{6});", STYLESHEET.read_text()).group(1)  # the page's may not be read yet
    red, green, blue = (int(accent[i:i + 2], 16) for i in (0, 2, 4))
    expect(told).to_have_css("border-color", f"rgb({red}, {green}, {blue})")  # waits for the stylesheet
    expect(told).to_have_css("color", f"rgb({red}, {green}, {blue})")


def test_cancel_stands_apart_from_save(live_server, page, factories):
    """On the administrator and access-group forms a slip of the finger must not hit Cancel for Save."""
    server = live_server()
    factories.staff(login="boss", password=PASSWORD, full_access=True)
    sign_in(page, server, "boss", PASSWORD)
    for path in ("/admin/administrators/new", "/admin/access-permissions/new"):
        page.goto(server.url + path)
        save = page.get_by_role("button", name="Save").bounding_box()
        cancel = page.get_by_role("link", name="Cancel").bounding_box()
        assert cancel["x"] - (save["x"] + save["width"]) >= 12, path


def test_a_saved_badge_goes_at_the_next_change_to_its_form(live_server, page, factories):
    """After "Saved", ticking another right is not saved yet: the badge must not say it is."""
    server = live_server()
    owner = factories.client_user(email="owner@example.com", password=CLIENT_PASSWORD)
    member = factories.client_user(email="member@example.com", client=owner.client)
    sign_in(page, server, "owner@example.com", CLIENT_PASSWORD)
    page.goto(server.url + f"/users/{member.id}/rights")
    boxes = page.locator("#rights-form input[name=rights]:not([disabled])")
    boxes.nth(0).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved")
    boxes.nth(1).check()
    expect(page.get_by_role("status")).to_have_count(0)
