"""Sessions in a real browser: signing out everywhere else from the Security page."""

import re

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
        questions = []
        page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
        sessions.get_by_role("button", name="Sign out everywhere else").click()  # asked, and declined
        assert questions == ["Sign out every other browser and device, and revoke all your API tokens?"]
        expect(page.locator("#sessions tbody tr")).to_have_count(2)
        page.once("dialog", lambda dialog: dialog.accept())
        sessions.get_by_role("button", name="Sign out everywhere else").click()
        expect(page.get_by_text("1 other session ended, 0 API tokens revoked")).to_be_visible()
        expect(page.locator("#sessions tbody tr")).to_have_count(1)
        other.goto(server.url + "/home")
        expect(other).to_have_url(server.url + "/login?next=%2Fhome")
    finally:
        other_context.close()


def test_revoking_an_api_token_asks_first(live_server, page, factories):
    factories.client_user(email="three@example.com", password="client password 1")
    server = live_server()
    log_in(page, server, "three@example.com", "client password 1")
    page.goto(server.url + "/settings/security")
    tokens = page.locator("#api-tokens")
    tokens.get_by_label("Name", exact=True).fill("deploy")
    tokens.get_by_label("Own settings and security (self.account)").check()
    tokens.get_by_label("Your password (to create a token)").fill("not my password")
    tokens.get_by_role("button", name="Create token").click()
    expect(tokens.locator("#token_password-error")).to_have_text("The current password is not correct.")
    expect(tokens.get_by_label("Name", exact=True)).to_have_value("deploy")
    tokens.get_by_label("Your password (to create a token)").fill("client password 1")
    tokens.get_by_role("button", name="Create token").click()
    expect(tokens.locator(".api-token")).to_have_text(re.compile(r"^pt_"))
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator("#api-tokens").get_by_role("button", name="Revoke").click()
    assert questions == ["Revoke the token “deploy”? Whatever uses it stops working."]
    expect(page.locator("#api-tokens tbody")).to_contain_text("deploy")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#api-tokens").get_by_role("button", name="Revoke").click()
    revoked = page.locator("#api-tokens").get_by_text("The token was revoked.")
    expect(revoked).to_be_visible()
    expect(revoked).to_be_in_viewport()  # where the page opens (#api-tokens), not at its top
    expect(page.locator("#api-tokens tbody")).to_have_text("No tokens.")
