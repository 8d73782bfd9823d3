"""Per-account counters: what they count, and that a spent one tells nothing about which names
belong together (a login and an email of one account) or whether a name exists."""

import re

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.services import settings
from tests.api_helpers import basic
from tests.web import WebClient

PASSWORD = "staff password 1"
WRONG = "wrong guess 1"
LOGIN, EMAIL = "ops", "ops@staff.example.com"


def configure(**values):
    settings.update(values)
    db.session.commit()


def limited(make_app, **limits):
    """A browser on an app with the given rate limits; no captcha, no account lock in the way."""
    configure(**{"captcha.mode": "off", "lockout.account_failures": 100})
    return WebClient(make_app(**limits).test_client())


def attempt(web, login, password=WRONG):
    return web.post_form("/login", {"login": login, "password": password})


def answer(response) -> tuple[int, str]:
    """Status and body, without the per-request CSRF token."""
    return response.status_code, re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", response.get_data(as_text=True))


def visitor(app, number: int) -> WebClient:
    """A browser at its own address, so per-address counts stay apart."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"198.51.100.{number}"
    return WebClient(client)


def test_the_account_locks_after_failures_split_between_login_and_email(web, factories):
    staff = factories.staff(login=LOGIN, password=PASSWORD)
    configure(**{"lockout.account_failures": 4, "captcha.mode": "off"})
    for name in ("OPS", "Ops@Staff.Example.com", "ops", EMAIL):
        attempt(web, name)
    assert db.session.get(User, staff.id).locked_until > utcnow()
    assert "Wrong login or password." in attempt(web, LOGIN, PASSWORD).get_data(as_text=True)


def test_a_spent_login_limit_does_not_tell_that_a_login_and_an_email_are_one_account(make_app, factories):
    """After the limit is spent under the login, the account's email is answered exactly as an
    email nobody has, by the form and by API authinfo."""
    factories.staff(login=LOGIN, password=PASSWORD)
    web = limited(make_app, RATELIMIT_LOGIN_PER_ACCOUNT="4 per minute")
    assert [attempt(web, name).status_code for name in ("OPS", "Ops", " ops", "ops")] == [200] * 4
    assert attempt(web, LOGIN, PASSWORD).status_code == 429  # the right password too: not checked
    assert answer(attempt(web, EMAIL)) == answer(attempt(web, "ghost@staff.example.com"))
    api = web.application.test_client()
    assert api.get("/api/v1/whoami", headers=basic(LOGIN, PASSWORD)).status_code == 429
    assert [api.get("/api/v1/whoami", headers=basic(name, WRONG)).status_code
            for name in (EMAIL, "ghost@staff.example.com")] == [401, 401]


def test_failures_under_the_login_do_not_bring_the_captcha_to_the_email(app, factories):
    """The captcha that follows a name's failures follows that name: under the account's other
    name, from another address, the page is the one an unknown email gets."""
    factories.staff(login=LOGIN, password=PASSWORD)
    configure(**{"captcha.after_failures": 3})
    for number in (1, 2, 3):
        attempt(visitor(app, number), LOGIN)
    assert "Please complete the captcha." in visitor(app, 4).post_form(
        "/login", {"login": LOGIN, "password": PASSWORD, "altcha": ""}).get_data(as_text=True)
    assert answer(attempt(visitor(app, 5), EMAIL)) == answer(attempt(visitor(app, 6), "ghost@staff.example.com"))


def test_an_unknown_login_is_answered_as_a_known_one(make_app, factories):
    """A value that names nobody is counted by its folded text and answered at every step as an
    account's login is (the same page, the limit at the same count)."""
    factories.staff(login=LOGIN, password=PASSWORD)
    web = limited(make_app, RATELIMIT_LOGIN_PER_ACCOUNT="4 per minute")
    known = [answer(attempt(web, name)) for name in ["OPS", "Ops ", "ops", " ops", "Ops"]]
    unknown = [answer(attempt(web, name)) for name in ["Ghost", "GHOST ", "ghost", " ghost", "Ghost"]]
    assert [status for status, _ in known] == [200] * 4 + [429]
    assert unknown == known


def test_strangers_keeping_the_login_limit_spent_do_not_shut_out_the_owners_browser(make_app, factories):
    """The per-account limit can be kept spent by anyone, as a lock can be kept up: a browser that
    signed in to the account before (its device cookie) still signs in; a stranger with the right
    password does not; and the device's own wrong passwords still end its pass."""
    factories.staff(login=LOGIN, password=PASSWORD)
    configure(**{"captcha.mode": "off", "lockout.account_failures": 3})
    app = make_app(RATELIMIT_LOGIN_PER_ACCOUNT="3 per minute")
    owner = WebClient(app.test_client())
    assert attempt(owner, LOGIN, PASSWORD).status_code == 302
    owner.post_form("/logout", {}, page_url="/admin/")
    stranger = WebClient(app.test_client())
    assert [attempt(stranger, LOGIN).status_code for _ in range(3)] == [200, 200, 429]  # the owner's sign-in was one
    assert attempt(WebClient(app.test_client()), LOGIN, PASSWORD).status_code == 429
    assert attempt(owner, LOGIN, PASSWORD).status_code == 302

    owner.post_form("/logout", {}, page_url="/admin/")
    for _ in range(3):  # the device's own wrong passwords use up its trust
        attempt(owner, LOGIN)
    assert attempt(owner, LOGIN, PASSWORD).status_code == 429
