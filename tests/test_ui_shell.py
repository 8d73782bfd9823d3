"""The page shell: the favicon, and a staff member held at 2FA enrolment sees only what works there."""

import re

from tests.access_helpers import PASSWORD, browser
from tests.methods_helpers import enrol_totp

MENU_LINK = re.compile(r'<nav aria-label="Main">.*?</nav>', re.S)
TOKEN_FORM = 'action="/settings/security/api-tokens#api-tokens"'
LOG_OUT_FORM = re.compile(r'<form method="post" action="/logout"[^>]*>.*?Log out</button>', re.S)


def test_the_favicon_is_linked_from_every_page_and_served(app, web):
    login_page = web.get("/login").get_data(as_text=True)
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg">' in login_page
    icon = web.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data(as_text=True).startswith("<svg ") and "style" not in icon.get_data(as_text=True)
    legacy = web.get("/favicon.ico")
    assert legacy.status_code == 301 and legacy.headers["Location"] == "/static/favicon.svg"


def test_a_gated_user_still_gets_the_favicon(app, factories):
    """/favicon.ico is not bounced to the enrolment page like the rest of the portal."""
    factories.staff(login="newcomer", password=PASSWORD, staff_2fa=True)
    newcomer = browser(app, "newcomer")
    assert newcomer.get("/admin/").headers["Location"] == "/settings/security"
    assert newcomer.get("/favicon.ico").headers["Location"] == "/static/favicon.svg"


def test_staff_held_at_enrolment_see_no_menu_and_no_token_form_until_they_enrol(app, factories):
    factories.staff(login="newcomer", password=PASSWORD, full_access=True, staff_2fa=True)
    newcomer = browser(app, "newcomer")
    held = newcomer.get("/settings/security").get_data(as_text=True)
    assert "Staff accounts need a second factor." in held
    assert MENU_LINK.search(held) is None
    assert TOKEN_FORM not in held and 'id="sessions"' not in held
    assert LOG_OUT_FORM.search(held) and 'action="/settings/security/totp/begin"' in held
    assert newcomer.get("/admin/administrators").headers["Location"] == "/settings/security"  # still gated

    enrol_totp(newcomer, PASSWORD)
    free = newcomer.get("/settings/security").get_data(as_text=True)
    menu = MENU_LINK.search(free)
    assert menu and 'href="/admin/administrators"' in menu.group(0)
    assert TOKEN_FORM in free and 'id="sessions"' in free
    assert "Staff accounts need a second factor." not in free and LOG_OUT_FORM.search(free)


def test_public_pages_have_no_empty_menu(app, web):
    assert '<nav aria-label="Main">' not in web.get("/login").get_data(as_text=True)
