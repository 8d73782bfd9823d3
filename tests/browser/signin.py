"""Signing in, and asking for a forgotten password, through the forms in a real browser, as a person does."""


def log_in(page, server, login: str, password: str) -> None:
    page.goto(server.url + "/login")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def ask_for_recovery(page, server, login: str, channel: str) -> None:
    """From the login page: "Forgot your password?", the login, the channel's choice ("A link by
    email" or "A code by SMS"), Send."""
    page.goto(server.url + "/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Login or email").fill(login)
    page.get_by_label(channel).check()
    page.get_by_role("button", name="Send").click()
