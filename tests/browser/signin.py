"""Signing in through the login form in a real browser, as a person does."""


def log_in(page, server, login: str, password: str) -> None:
    page.goto(server.url + "/login")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
