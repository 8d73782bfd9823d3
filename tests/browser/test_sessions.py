"""Sessions in a real browser: signing out everywhere else from the Security page."""

from playwright.sync_api import expect

from tests.browser.signin import log_in


def test_sign_out_everywhere_else_ends_the_other_browser(live_server, page, browser_instance, factories):
    factories.client_user(email="two@example.com", password="client password 1")
    server = live_server()
    other_context = browser_instance.new_context()
    other = other_context.new_page()
    try:
        log_in(other, server, "two@example.com", "client password 1")
        expect(other).to_have_url(server.url + "/home")
        log_in(page, server, "two@example.com", "client password 1")
        page.goto(server.url + "/settings/security")
        sessions = page.locator("#sessions")
        expect(sessions.locator("tbody tr")).to_have_count(2)
        sessions.get_by_role("button", name="Sign out everywhere else").click()
        expect(page.get_by_text("1 other session ended, 0 API tokens revoked")).to_be_visible()
        expect(page.locator("#sessions tbody tr")).to_have_count(1)
        other.goto(server.url + "/home")
        expect(other).to_have_url(server.url + "/login?next=%2Fhome")
    finally:
        other_context.close()
