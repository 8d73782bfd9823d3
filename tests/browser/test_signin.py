"""Sign-in in a real browser: register, land, log out, log in; staff and client areas."""

from playwright.sync_api import expect

from tests.browser.altcha import solve_altcha
from tests.outbox import link_in


def register(page, server, email: str, name: str, password: str) -> None:
    """The registration form filled and sent (captcha solved), up to "Check your email"."""
    page.goto(server.url + "/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Confirm password").fill(password)
    solve_altcha(page)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()


def test_register_land_logout_login(live_server, page):
    server = live_server()
    register(page, server, "browser@example.com", "Browser Person", "tangerine orbit 42")

    page.goto(server.url + link_in("browser@example.com", "/register/confirm/"))
    page.get_by_role("button", name="Confirm my account").click()
    expect(page).to_have_url(server.url + "/home")
    expect(page.get_by_role("heading", name="Welcome, Browser Person")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(server.url + "/login")
    page.get_by_label("Login").fill("browser@example.com")
    page.get_by_label("Password").fill("tangerine orbit 42")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(server.url + "/home")


def test_a_confirmation_link_opened_in_another_browser_asks_for_the_password(live_server, page, browser_instance):
    server = live_server()
    register(page, server, "phone@example.com", "Phone Person", "tangerine orbit 43")

    elsewhere = browser_instance.new_context()  # the mail opened on a phone
    try:
        other = elsewhere.new_page()
        other.goto(server.url + link_in("phone@example.com", "/register/confirm/"))
        other.get_by_role("button", name="Confirm my account").click()
        expect(other.get_by_text("Enter the password you chose when you registered.")).to_be_visible()
        other.get_by_label("Password").fill("tangerine orbit 43")
        other.get_by_role("button", name="Confirm my account").click()
        expect(other).to_have_url(server.url + "/home")
    finally:
        elsewhere.close()


def test_staff_reaches_admin_and_client_gets_403(live_server, page, factories):
    factories.staff(login="chief", password="staff password 1", full_access=True)
    factories.client_user(email="buyer@example.com", password="client password 1")
    server = live_server()
    for login, password in (("chief", "staff password 1"), ("buyer@example.com", "client password 1")):
        page.goto(server.url + "/login")
        page.get_by_label("Login").fill(login)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        response = page.goto(server.url + "/admin/")
        if login == "chief":
            assert response.status == 200
            expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        else:
            assert response.status == 403
            expect(page.get_by_text("You do not have access to this page.")).to_be_visible()
        page.get_by_role("button", name="Log out").click()


def test_page_loads_htmx_under_the_csp(live_server, page, factories):
    """The vendored htmx runs: no CSP violation, and `htmx` exists on the page."""
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    server = live_server()
    page.goto(server.url + "/login")
    assert page.evaluate("typeof htmx !== 'undefined' && htmx.version.startsWith('2.0.')")
    assert violations == []
