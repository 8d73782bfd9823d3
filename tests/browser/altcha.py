"""Browser helper: let the ALTCHA widget on the page solve its proof of work."""

from playwright.sync_api import expect


def solve_altcha(page) -> None:
    """Tick the widget (its label: the box itself sits under an icon) and wait for the solution."""
    page.locator("altcha-widget").get_by_text("I'm not a robot").click()
    expect(page.locator("altcha-widget [data-state='verified']")).to_have_count(1)
