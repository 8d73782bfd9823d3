"""A sign-in from a browser the account was not signed in from before is emailed to the owner."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import User
from portal.services import settings
from portal.services.signin_notices import NEW_BROWSER
from tests.methods_helpers import enrol_totp, next_totp
from tests.outbox import link_in, messages
from tests.signup import register
from tests.web import WebClient

SUBJECT = "New sign-in to your account"
PASSWORD = "client password 1"


def sign_in(web, login="client@example.com", **kwargs):
    return web.post_form("/login", {"login": login, "password": PASSWORD}, **kwargs)


def test_a_new_browser_is_told_to_the_owner_and_a_known_one_is_not(app, client_user):
    browser = WebClient(app.test_client())
    assert sign_in(browser, headers={"User-Agent": "Call +1 555 0100 to keep your account"}).status_code == 302
    [notice] = messages(to="client@example.com", subject=SUBJECT)
    assert "your account client@example.com was signed in to with the password from a browser it was " \
           "not signed in from before" in notice.body
    assert "from the address 127.0.0.1" in notice.body and " UTC " in notice.body
    assert "/recover" in notice.body and "/settings/security" in notice.body
    assert "555" not in notice.body  # nothing the signer chose travels in the mail

    browser.post_form("/logout", {}, page_url="/home")
    assert sign_in(browser).status_code == 302  # the same browser again: its device cookie
    assert len(messages(to="client@example.com", subject=SUBJECT)) == 1
    assert sign_in(WebClient(app.test_client())).status_code == 302  # another browser
    assert len(messages(to="client@example.com", subject=SUBJECT)) == 2


def test_a_browser_is_new_again_once_every_other_session_was_ended(app, client_user):
    """The thief's browser from before "Sign out everywhere else" is told again when it comes back."""
    thief = WebClient(app.test_client())
    sign_in(thief)
    owner = WebClient(app.test_client())
    sign_in(owner)
    owner.post_form("/settings/security/sessions/end-others", {}, page_url="/settings/security")
    before = len(messages(to="client@example.com", subject=SUBJECT))
    assert sign_in(thief).status_code == 302
    assert len(messages(to="client@example.com", subject=SUBJECT)) == before + 1


def test_with_a_second_factor_it_is_told_once_the_sign_in_is_complete(app, client_web, client_user):
    secret, _codes = enrol_totp(client_web, PASSWORD)
    told = len(messages(to="client@example.com", subject=SUBJECT))
    browser = WebClient(app.test_client())
    assert sign_in(browser).headers["Location"] == "/login/2fa"
    assert len(messages(to="client@example.com", subject=SUBJECT)) == told  # the password alone is no sign-in
    assert browser.post_form("/login/2fa", {"code": next_totp(secret, client_user.id)}).status_code == 302
    notice = messages(to="client@example.com", subject=SUBJECT)[-1]
    assert "signed in to with the password and a second factor from a browser" in notice.body


def test_the_provider_may_switch_the_notice_off(app, factories):
    user = factories.client_user(email="quiet@example.com", password=PASSWORD)
    settings.update({NEW_BROWSER: False}, user.provider_id)
    db.session.commit()
    assert sign_in(WebClient(app.test_client()), login="quiet@example.com").status_code == 302
    assert messages(to="quiet@example.com", subject=SUBJECT) == []


def test_a_new_accounts_first_sign_in_is_no_news(web):
    """Confirming a registration signs the new account in: nothing to tell its owner about."""
    register(web, email="fresh@example.com")
    assert web.post_form(link_in("fresh@example.com"), {}).headers["Location"] == "/home"
    assert db.session.execute(select(User).where(User.email == "fresh@example.com")).scalar_one()
    assert messages(to="fresh@example.com", subject=SUBJECT) == []
