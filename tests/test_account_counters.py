"""Per-account counters count the account, whichever of its login or email is typed, in any case;
a value that names nobody is counted as typed, and answered as before."""

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.services import settings
from tests.api_helpers import basic
from tests.statements import recorded
from tests.web import WebClient, solve_altcha

PASSWORD = "staff password 1"
WRONG = "wrong guess 1"
LOGIN, EMAIL = "ops", "ops@staff.example.com"
# the two names of one account, in the cases a person may type them
NAMES = ["OPS", "Ops@Staff.Example.com", "ops", "ops@staff.example.com"]


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


def test_login_and_email_of_one_account_share_the_login_limit(make_app, factories):
    factories.staff(login=LOGIN, password=PASSWORD)
    factories.staff(login="other", password=PASSWORD)
    web = limited(make_app, RATELIMIT_LOGIN_PER_ACCOUNT="4 per minute")
    assert [attempt(web, name).status_code for name in NAMES] == [200] * 4
    assert attempt(web, LOGIN, PASSWORD).status_code == 429  # the right password too: not checked
    assert attempt(web, EMAIL).status_code == 429
    assert attempt(web, "other").status_code == 200  # another account keeps its own count


def test_the_account_locks_after_failures_split_between_login_and_email(web, factories):
    staff = factories.staff(login=LOGIN, password=PASSWORD)
    configure(**{"lockout.account_failures": 4, "captcha.mode": "off"})
    for name in NAMES:
        attempt(web, name)
    assert db.session.get(User, staff.id).locked_until > utcnow()
    assert "Wrong login or password." in attempt(web, LOGIN, PASSWORD).get_data(as_text=True)


def visitor(app, number: int) -> WebClient:
    """A browser at its own address, so per-address counts stay apart."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"198.51.100.{number}"
    return WebClient(client)


def test_the_captcha_counts_failures_of_the_account_whichever_name_was_typed(app, factories):
    """Once the account has failed N times, under its login or its email, signing in to it asks
    for the captcha, whichever name is typed and from whichever address."""
    factories.staff(login=LOGIN, password=PASSWORD)
    configure(**{"captcha.after_failures": 3})
    for number, name in enumerate(NAMES[:3], start=1):
        assert attempt(visitor(app, number), name).status_code == 200
    for number, name in ((4, EMAIL), (5, "Ops")):
        refused = visitor(app, number).post_form("/login", {"login": name, "password": PASSWORD, "altcha": ""})
        assert refused.status_code == 200 and "Please complete the captcha." in refused.get_data(as_text=True)
    solver = visitor(app, 6)
    solved = solver.post_form("/login", {"login": EMAIL, "password": PASSWORD,
                                         "altcha": solve_altcha(solver.client, "/captcha/altcha")})
    assert solved.status_code == 302


def test_login_and_email_share_the_recovery_limit(make_app, factories):
    factories.staff(login=LOGIN, password=PASSWORD)
    web = limited(make_app, RATELIMIT_RECOVER_PER_ACCOUNT="2 per hour")
    statuses = [web.post_form("/recover", {"login": name, "channel": "email"}).status_code
                for name in ("Ops", EMAIL.upper(), "ops")]
    assert statuses == [200, 200, 429]


def test_authinfo_shares_the_login_limit_with_the_form(make_app, factories):
    factories.staff(login=LOGIN, password=PASSWORD)
    web = limited(make_app, RATELIMIT_LOGIN_PER_ACCOUNT="4 per minute")
    api = web.application.test_client()
    assert [attempt(web, name).status_code for name in ("ops", "OPS")] == [200, 200]
    assert [api.get("/api/v1/whoami", headers=basic(name, WRONG)).status_code
            for name in ("Ops@staff.example.com", "ops@staff.example.com")] == [401, 401]
    assert api.get("/api/v1/whoami", headers=basic(LOGIN, PASSWORD)).status_code == 429
    assert attempt(web, EMAIL).status_code == 429


def test_an_unknown_login_is_answered_as_a_known_one_and_counted_as_typed(make_app, factories):
    """A value that names nobody is counted by its folded text: answered at every step as an
    account is (the same page, the limit at the same count), and two unknown values never
    share a count."""
    factories.staff(login=LOGIN, password=PASSWORD)
    web = limited(make_app, RATELIMIT_LOGIN_PER_ACCOUNT="4 per minute")
    known = [answer(attempt(web, name)) for name in [*NAMES, LOGIN]]
    unknown = [answer(attempt(web, name)) for name in ["Ghost", "GHOST ", "ghost", " ghost", "Ghost"]]
    assert [status for status, _ in known] == [200] * 4 + [429]
    assert unknown == known
    assert [attempt(web, name).status_code for name in ("ghost@example.com", "nobody")] == [200, 200]


def test_a_sign_in_looks_the_account_up_once(app, web, factories):
    """The rate limit, the captcha check and the password check of one request share the lookup."""
    factories.staff(login=LOGIN, password=PASSWORD)
    with app.app_context():
        engine = db.engine  # the app's, not the test body's twin
    token = web.csrf_token("/login")
    with recorded(engine) as statements:
        assert web.client.post("/login", data={"csrf_token": token, "login": EMAIL,
                                                "password": WRONG}).status_code == 200
    lookups = [s for s in statements if re.search(r'lower\("?user"?\.login\)', s)]
    assert len(lookups) == 1, "\n".join(statements)
    assert db.session.execute(select(User.failed_logins).where(User.login == LOGIN)).scalar_one() == 1
