"""General settings: name and email, the password change, and the maximum password age."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AuthEvent,
    PasswordHistory,
    PendingEmailChange,
    User,
    UserSession,
)
from portal.models.base import utcnow
from portal.services import access, gdpr, settings
from portal.services.recovery import LINK_INVALID
from tests.api_helpers import basic, bearer, make_token
from tests.outbox import link_in, messages, path_in
from tests.web import WebClient

NEW = "violet kettle under moonlight"


def change(web, current="client password 1", new=NEW, confirm=None, url="/settings/general/password",
           page="/settings/general"):
    return web.post_form(url, {"current_password": current, "password": new,
                               "confirm": confirm or new}, page_url=page)


def test_page_shows_the_labelled_forms(client_web):
    body = client_web.get("/settings/general").get_data(as_text=True)
    for label in ("Name", "Email", "Current password", "New password", "Confirm new password"):
        assert f">{label}</label>" in body
    assert 'value="client@example.com"' in body
    assert '<input class="primary" name="submit" type="submit" value="Save"' in body  # the profile's button
    assert 'id="password-submit" name="submit" type="submit" value="Save"' in body


def test_change_signs_out_every_other_session_and_sends_a_notice(app, client_web):
    other = WebClient(app.test_client())
    other.login("client@example.com", "client password 1", remember=True)
    secret = make_token(other)
    response = change(client_web)
    assert response.status_code == 302
    assert client_web.get("/settings/general").status_code == 200  # this browser stays
    assert other.get("/home").status_code == 302  # the other one, remember cookie and all, is out
    assert app.test_client().get("/api/v1/whoami", headers=bearer(secret)).status_code == 401
    notice = messages(to="client@example.com")[-1]
    assert notice.subject == "Your password was changed" and NEW not in notice.body
    assert ("password_changed",) in db.session.execute(select(AuthEvent.event)).all()
    fresh = WebClient(app.test_client())
    assert fresh.login("client@example.com", NEW).status_code == 302


def test_wrong_current_password_is_refused_and_counted(client_web, client_user):
    body = change(client_web, current="not my password").get_data(as_text=True)
    assert "The current password is not correct." in body
    assert db.session.get(User, client_user.id).failed_logins == 1


def test_policy_applies_to_the_change_with_the_reason(client_web):
    body = change(client_web, new="short one").get_data(as_text=True)
    assert "Use at least 12 characters." in body
    body = change(client_web, new=NEW, confirm=NEW + "x").get_data(as_text=True)
    assert "The passwords do not match." in body


def test_policy_and_mismatch_are_shown_together(client_web, client_user):
    before = client_user.password_hash
    body = change(client_web, new="short", confirm="short2").get_data(as_text=True)
    assert '<p class="error" id="password-error">Use at least 12 characters.</p>' in body
    assert '<p class="error" id="confirm-error">The passwords do not match.</p>' in body
    body = change(client_web, new="client user pass 9", confirm="client user pass 8").get_data(as_text=True)
    assert "Do not use your login, email or name in the password." in body
    assert "The passwords do not match." in body
    assert db.session.get(User, client_user.id).password_hash == before


def test_the_last_passwords_cannot_come_back(web, factories):
    user = factories.client_user(email="hist@example.com", password="amber falcon river")
    web.login("hist@example.com", "amber falcon river")
    assert change(web, current="amber falcon river").status_code == 302
    body = change(web, current=NEW, new="amber falcon river").get_data(as_text=True)
    assert "You used this password recently. Choose another." in body
    body = change(web, current=NEW, new=NEW).get_data(as_text=True)
    assert "You used this password recently. Choose another." in body
    assert len(db.session.execute(select(PasswordHistory).where(
        PasswordHistory.user_id == user.id)).scalars().all()) == 1


def test_password_history_is_kept_per_user(app, factories):
    """One user's change neither trims another's history nor refuses a password only another used
    (which would tell them what it was)."""
    factories.client_user(email="ann@example.com", password="amber falcon river")
    factories.client_user(email="bob@example.com", password="copper meadow lantern")
    ann, bob = WebClient(app.test_client()), WebClient(app.test_client())
    ann.login("ann@example.com", "amber falcon river")
    bob.login("bob@example.com", "copper meadow lantern")
    assert change(ann, current="amber falcon river").status_code == 302
    assert change(bob, current="copper meadow lantern", new="amber falcon river").status_code == 302
    body = change(ann, current=NEW, new="amber falcon river").get_data(as_text=True)
    assert "You used this password recently. Choose another." in body


def email_link(recipient: str) -> str:
    mail = messages(to=recipient)[-1]
    assert mail.subject == "Confirm your new email address"
    return path_in(mail.body, "/settings/email/confirm/")


def move(web, email, password="client password 1"):
    return web.post_form("/settings/general", {"name": "Client", "email": email, "email_password": password})


def confirm(web, path):
    return web.post_form(path, {})


def test_name_is_saved_at_once_and_email_waits_for_the_link_sent_to_it(client_web, client_user):
    response = client_web.post_form("/settings/general", {"name": "Renamed", "email": "New@Example.com",
                                                          "email_password": "client password 1"})
    assert response.status_code == 302
    user = db.session.get(User, client_user.id)
    assert (user.name, user.email, user.login) == ("Renamed", "client@example.com", "client@example.com")
    page = client_web.get("/settings/general").get_data(as_text=True)
    assert "We sent a link to new@example.com." in page
    assert "Waiting for confirmation: <strong>new@example.com</strong>" in page
    expires_at = db.session.execute(select(PendingEmailChange.expires_at)).scalar_one()
    assert abs(expires_at - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)  # EMAIL_CHANGE_LINK_HOURS
    path = email_link("new@example.com")
    assert "Use this email address" in client_web.get(path).get_data(as_text=True)  # a GET changes nothing
    assert db.session.get(User, client_user.id).email == "client@example.com"

    confirmed = confirm(client_web, path)
    assert confirmed.headers["Location"] == "/settings/general"
    assert "Sign in with it from now on" in client_web.get("/settings/general").get_data(as_text=True)
    db.session.expire_all()
    user = db.session.get(User, client_user.id)
    assert (user.email, user.login) == ("new@example.com", "new@example.com")
    audits = {a.action: a.changes for a in db.session.execute(select(AuditEvent)).scalars()}
    assert audits["email_change_requested"] == {"email": ["client@example.com", "new@example.com"]}
    assert audits["profile_changed"] == {"email": ["client@example.com", "new@example.com"],
                                         "login": ["client@example.com", "new@example.com"]}
    assert messages(to="client@example.com")[-1].subject == "Your email address was changed"
    again = confirm(client_web, path)
    assert again.status_code == 400
    assert "This confirmation link is invalid, expired or already used." in again.get_data(as_text=True)


def test_the_link_to_an_unproven_address_carries_no_text_the_requester_typed(client_web):
    """Anyone can sign up and name themselves anything: the mail to the address they type is not
    a way to send their words, under the portal's name, to a stranger's mailbox."""
    lure = "Your mailbox is suspended, restore it at https://evil.example/restore"
    client_web.post_form("/settings/general", {"name": lure, "email": "stranger@example.com",
                                               "email_password": "client password 1"})
    mail = messages(to="stranger@example.com")[-1]
    assert mail.subject == "Confirm your new email address"
    assert "evil.example" not in mail.body and mail.body.startswith("Hello,\n\n")


def test_email_link_works_signed_out_and_a_new_request_replaces_the_old_link(app, client_web, client_user):
    move(client_web, "first@example.com")
    first = email_link("first@example.com")
    move(client_web, "second@example.com")
    second = email_link("second@example.com")
    stranger = WebClient(app.test_client())
    assert confirm(stranger, first).status_code == 400
    assert confirm(stranger, second).headers["Location"] == "/login"
    db.session.expire_all()
    assert db.session.get(User, client_user.id).email == "second@example.com"
    assert db.session.execute(select(PendingEmailChange)).first() is None


def test_mail_server_away_during_a_second_email_change_keeps_the_first_link(app, make_app, smtp, factories):
    user = factories.client_user(email="mira@example.com", name="Mira Moss", password="client password 1")
    web = WebClient(make_app(**smtp.app_config()).test_client())
    web.login("mira@example.com", "client password 1")
    form = {"name": "Mira Moss", "email_password": "client password 1"}
    assert web.post_form("/settings/general", {**form, "email": "mira@new.example"}).status_code == 302
    first = smtp.wait_for(lambda m: "mira@new.example" in m.to)
    smtp.stop()
    body = web.post_form("/settings/general", {**form, "email": "mira@other.example"}).get_data(as_text=True)
    assert "The email could not be sent. Please try again later." in body
    assert 'value="mira@other.example"' in body
    smtp.start()
    assert "Waiting for confirmation: <strong>mira@new.example</strong>" in web.get(
        "/settings/general").get_data(as_text=True)
    path = path_in(first.body, "/settings/email/confirm/")
    assert confirm(web, path).headers["Location"] == "/settings/general"
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "mira@new.example"
    requested = db.session.execute(select(AuditEvent.changes).where(
        AuditEvent.action == "email_change_requested")).scalars().all()
    assert requested == [{"email": ["mira@example.com", "mira@new.example"]}]  # the failed one is not logged


def test_one_users_email_change_never_touches_anothers(app, make_app, smtp, factories):
    """Asking, asking again and a mail failure of one user leave another's change in flight, its
    link and their page as they were."""
    for email in ("ann@example.com", "bob@example.com"):
        factories.client_user(email=email, password="client password 1")
    portal = make_app(**smtp.app_config())
    ann, bob = WebClient(portal.test_client()), WebClient(portal.test_client())
    ann.login("ann@example.com", "client password 1")
    bob.login("bob@example.com", "client password 1")
    assert move(ann, "ann@new.example").status_code == 302
    anns = smtp.wait_for(lambda m: "ann@new.example" in m.to)
    assert move(bob, "bob@new.example").status_code == 302
    smtp.stop()
    assert "The email could not be sent." in move(bob, "bob@other.example").get_data(as_text=True)
    smtp.start()
    page = bob.get("/settings/general").get_data(as_text=True)
    assert "Waiting for confirmation: <strong>bob@new.example</strong>" in page and "ann@new" not in page
    path = path_in(anns.body, "/settings/email/confirm/")
    assert confirm(ann, path).headers["Location"] == "/settings/general"
    assert set(db.session.execute(select(User.email)).scalars()) == {"ann@new.example", "bob@example.com"}
    assert db.session.execute(select(PendingEmailChange.email)).scalars().all() == ["bob@new.example"]


def test_email_link_expired_or_address_taken_meanwhile_changes_nothing(client_web, client_user, factories):
    move(client_web, "late@example.com")
    pending = db.session.execute(select(PendingEmailChange)).scalar_one()
    pending.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert confirm(client_web, email_link("late@example.com")).status_code == 400
    assert "Waiting for confirmation" not in client_web.get("/settings/general").get_data(as_text=True)

    move(client_web, "race@example.com")
    factories.client_user(email="race@example.com")
    refused = confirm(client_web, email_link("race@example.com"))
    assert refused.status_code == 400
    assert "This email address belongs to another account." in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, client_user.id).email == "client@example.com"
    assert db.session.execute(select(PendingEmailChange)).first() is None


SHUT_OUT = {  # what the owner does on suspecting a thief, and what a thief's email change must not outlive
    "password change": lambda app, web, user: change(web),
    "sign out everywhere else": lambda app, web, user: web.post_form(
        "/settings/security/sessions/end-others", {}, page_url="/settings/security"),
    "password reset": lambda app, web, user: recovery_link_used(app, user),
}


def recovery_link_used(app, user):
    """The owner recovers the account by the emailed link (from a browser of their own)."""
    owner = WebClient(app.test_client())
    owner.post_form("/recover", {"login": user.email, "channel": "email"})
    path = link_in(user.email, "/recover/reset/")
    assert owner.post_form(path, {"password": NEW, "confirm": NEW}).headers["Location"] == "/login"


@pytest.mark.parametrize("shut_out", sorted(SHUT_OUT))
def test_an_email_change_in_flight_dies_when_the_owner_shuts_the_doors(app, client_web, client_user, shut_out):
    """Someone who knows the password asks to move the account to their own mailbox; the owner
    changes or resets the password, or signs out everywhere else, before the link is used."""
    move(client_web, "thief@example.com")
    thief_link = email_link("thief@example.com")
    SHUT_OUT[shut_out](app, client_web, client_user)
    refused = confirm(WebClient(app.test_client()), thief_link)
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, client_user.id).email == "client@example.com"
    assert db.session.execute(select(PendingEmailChange)).first() is None


def test_an_email_change_in_flight_dies_when_access_is_denied(app, factories):
    root = factories.staff(full_access=True)
    staff = factories.staff(login="leaver", password="staff password 1")
    web = WebClient(app.test_client())
    web.login("leaver", "staff password 1")
    move(web, "leaver@elsewhere.example", password="staff password 1")
    link = email_link("leaver@elsewhere.example")
    for denied in (True, False):  # denied as they leave, restored by mistake a moment later
        access.set_access_denied(root, db.session.get(User, staff.id), denied)
        db.session.commit()
    assert confirm(WebClient(app.test_client()), link).status_code == 400
    db.session.expire_all()
    assert db.session.get(User, staff.id).email == "leaver@staff.example.com"


def test_an_email_change_in_flight_dies_the_moment_clear_data_starts(app, client_web, client_user, staff_user):
    """Clear data closes the account at once; its links are dropped batch by batch, and no batch has run here."""
    move(client_web, "thief@example.com")
    link = email_link("thief@example.com")
    gdpr.start(client_user.client, staff_user, "staff password 1", client_user.client.name)
    assert confirm(WebClient(app.test_client()), link).status_code == 400
    assert db.session.execute(select(User.email).where(User.id == client_user.id)).scalar_one() \
        == "client@example.com"


def test_a_staff_login_stays_when_the_email_it_matched_changes(app, factories):
    """A client user's login follows their email; a staff member's was chosen and stays, even alike."""
    staff = factories.staff(login="ops@example.com", email="ops@example.com")
    web = WebClient(app.test_client())
    web.login("ops@example.com", "staff password 1")
    move(web, "ops@new.example", password="staff password 1")
    assert confirm(web, email_link("ops@new.example")).headers["Location"] == "/settings/general"
    assert "Sign in with it from now on" not in web.get("/settings/general").get_data(as_text=True)
    db.session.expire_all()
    assert (db.session.get(User, staff.id).login, db.session.get(User, staff.id).email) \
        == ("ops@example.com", "ops@new.example")


def test_a_reset_link_mailed_to_the_old_address_dies_with_the_email_change(app, client_web, client_user):
    WebClient(app.test_client()).post_form("/recover", {"login": "client@example.com", "channel": "email"})
    old_link = link_in("client@example.com", "/recover/reset/")
    move(client_web, "moved@example.com")
    assert confirm(client_web, email_link("moved@example.com")).status_code == 302
    page = WebClient(app.test_client()).get(old_link, follow_redirects=True).get_data(as_text=True)
    assert LINK_INVALID in page and "New password" not in page


def test_email_change_needs_the_password_and_a_wrong_one_counts_toward_the_lock(client_web, client_user):
    settings.update({"lockout.account_failures": 2})
    db.session.commit()
    body = client_web.post_form("/settings/general", {"name": "Renamed", "email": "thief@example.com",
                                                      "email_password": "wrong guess 1"}).get_data(as_text=True)
    assert re.search(r'id="email_password"[^>]*>\s*(<small[^>]*>[^<]*</small>)?\s*<p class="error" '
                     r'id="email_password-error">The current password is not correct.</p>', body)
    assert 'value="thief@example.com"' in body and 'value="Renamed"' in body and "wrong guess" not in body
    user = db.session.get(User, client_user.id)
    assert (user.name, user.email, user.failed_logins) == ("Client User", "client@example.com", 1)
    assert db.session.execute(select(PendingEmailChange)).first() is None and not messages(to="thief@example.com")
    assert [e.event for e in db.session.execute(select(AuthEvent).where(
        AuthEvent.user_id == client_user.id, AuthEvent.event == "email_change_failed")).scalars()] \
        == ["email_change_failed"]
    empty = move(client_web, "thief@example.com", "").get_data(as_text=True)
    assert "Enter your current password to confirm this change." in empty  # not a guess: not counted
    assert db.session.get(User, client_user.id).failed_logins == 1
    assert "The current password is not correct." in move(client_web, "thief@example.com", "wrong guess 2"
                                                           ).get_data(as_text=True)
    assert db.session.get(User, client_user.id).is_locked  # the second wrong one locked the account
    assert "The current password is not correct." in move(client_web, "thief@example.com").get_data(as_text=True)

    renamed = client_web.post_form("/settings/general", {"name": "Renamed", "email": "client@example.com"})
    assert renamed.status_code == 302 and db.session.get(User, client_user.id).name == "Renamed"  # no password


def test_a_profile_save_that_changes_nothing_says_so_as_information(client_web):
    form = {"name": "Client User", "email": "client@example.com"}
    same = client_web.post_form("/settings/general", form, follow_redirects=True).get_data(as_text=True)
    assert '<p class="flash flash-info">Nothing changed.</p>' in same
    renamed = client_web.post_form("/settings/general", {**form, "name": "Renamed"}, follow_redirects=True)
    assert '<p class="flash flash-success">Saved.</p>' in renamed.get_data(as_text=True)


def test_profile_saves_are_throttled_per_user(make_app, factories):
    factories.client_user(email="often@example.com", password="client password 1")
    web = WebClient(make_app(RATELIMIT_REAUTH_PER_ACCOUNT="2 per hour").test_client())
    web.login("often@example.com", "client password 1")
    statuses = [web.post_form("/settings/general", {"name": f"Name {n}", "email": f"n{n}@example.com",
                                                    "email_password": "client password 1"}
                              ).status_code for n in range(3)]
    assert statuses == [302, 302, 429]
    assert len(messages(subject="Confirm your new email address")) == 2


def test_profile_refuses_a_taken_email_and_keeps_input(client_web, factories):
    factories.client_user(email="taken@example.com")
    form = {"name": "Kept Name", "email": "taken@example.com"}
    guessed = client_web.post_form("/settings/general", form).get_data(as_text=True)
    assert "belongs to another account" not in guessed  # not without the password
    assert "Enter your current password to confirm this change." in guessed
    body = client_web.post_form("/settings/general", {**form, "email_password": "client password 1"}
                                ).get_data(as_text=True)
    assert "This email address belongs to another account." in body
    assert 'value="Kept Name"' in body and 'value="taken@example.com"' in body


def age_password(user_id, days):
    user = db.session.get(User, user_id)
    user.password_changed_at = utcnow() - timedelta(days=days)
    db.session.commit()


def test_expired_password_closes_every_page_until_changed(make_app, factories):
    app = make_app(PASS_EXPIRE_PERIOD=90)
    user = factories.staff(login="old", password="staff password 1", full_access=True)
    age_password(user.id, 91)
    web = WebClient(app.test_client())
    assert web.post_form("/login", {"login": "old", "password": "staff password 1"}).status_code == 302
    for page in ("/admin/", "/settings/general", "/admin/settings/security"):
        response = web.get(page)
        assert response.status_code == 302 and response.headers["Location"] == "/settings/password"
    partial = web.htmx("POST", "/settings/security/sessions/end-others", page_url="/settings/password")
    assert partial.status_code == 204 and partial.headers["HX-Redirect"] == "/settings/password"
    assert change(web, current="staff password 1", url="/settings/password",
                  page="/settings/password").headers["Location"] == "/"
    assert web.get("/admin/").status_code == 200


def test_expired_client_user_too_and_period_zero_is_off(make_app, client_user):
    age_password(client_user.id, 400)
    off = WebClient(make_app(PASS_EXPIRE_PERIOD=0).test_client())
    off.login("client@example.com", "client password 1")
    assert off.get("/home").status_code == 200
    on = WebClient(make_app(PASS_EXPIRE_PERIOD=30).test_client())
    on.login("client@example.com", "client password 1")
    assert on.get("/home").headers["Location"] == "/settings/password"


def test_warning_a_few_days_before(make_app, client_user):
    age_password(client_user.id, 85)
    web = WebClient(make_app(PASS_EXPIRE_PERIOD=90).test_client())
    web.login("client@example.com", "client password 1")
    body = web.get("/home").get_data(as_text=True)
    assert "Your password expires in 4 days." in body
    assert "Your password expires" not in web.get("/home").get_data(as_text=True)  # once


def test_expired_password_closes_the_api_too(make_app, client_user):
    """Past the maximum age neither an API token nor authinfo with the old password gets in."""
    app = make_app(PASS_EXPIRE_PERIOD=90)
    web = WebClient(app.test_client())
    web.login("client@example.com", "client password 1")
    secret = make_token(web)
    age_password(client_user.id, 91)
    api = app.test_client()
    for headers in (bearer(secret), basic("client@example.com", "client password 1")):
        refused = api.get("/api/v1/whoami", headers=headers)
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "password_expired"


def test_password_expires_when_the_period_ends_not_a_day_later(make_app, client_user):
    app = make_app(PASS_EXPIRE_PERIOD=30)
    user = db.session.get(User, client_user.id)
    user.password_changed_at = utcnow() - timedelta(days=29, hours=23)
    db.session.commit()
    web = WebClient(app.test_client())
    web.login("client@example.com", "client password 1")
    assert web.get("/home").status_code == 200
    user = db.session.get(User, client_user.id)
    user.password_changed_at = utcnow() - timedelta(days=30, minutes=1)
    db.session.commit()
    expired = web.get("/home")
    assert expired.status_code == 302 and expired.headers["Location"] == "/settings/password"


def test_change_keeps_this_browser_on_a_session_no_longer_than_before(app, client_web):
    """The new session of this browser takes over the old one's "remember me" (here: none), so a
    password change never stretches a day's session into REMEMBER_DAYS."""
    assert change(client_web).status_code == 302
    assert client_web.get_cookie("portal_remember") is None
    row = db.session.execute(select(UserSession).where(UserSession.revoked_at.is_(None))).scalar_one()
    row.last_seen_at = utcnow() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert client_web.get("/home").status_code == 302


REAUTH = ("RATELIMIT_REAUTH_PER_IP", "RATELIMIT_REAUTH_PER_ACCOUNT")
CURRENT_PASSWORD_ROUTES = [  # every form with a current-password field, each with its limits
    ("/settings/general", REAUTH),  # its password field confirms a new email address
    ("/settings/general/password", REAUTH),
    ("/settings/password", REAUTH),
    ("/settings/security/totp/confirm", REAUTH),
    ("/settings/security/sms/enable", REAUTH),
    ("/settings/security/recovery-codes", REAUTH),
    ("/settings/security/2fa/totp/remove", REAUTH),
    ("/settings/security/2fa/sms/remove", REAUTH),
    ("/settings/security/linked/google", REAUTH),
    ("/settings/security/api-tokens", REAUTH),
    ("/settings/phone", ("RATELIMIT_PHONE_CHANGE_PER_IP", "RATELIMIT_PHONE_CHANGE_PER_ACCOUNT")),
]


@pytest.mark.parametrize("per", ["address", "user"])
@pytest.mark.parametrize("url, limits", CURRENT_PASSWORD_ROUTES, ids=[url for url, _ in CURRENT_PASSWORD_ROUTES])
def test_every_current_password_field_is_throttled_per_address_and_per_user(make_app, factories, url, limits, per):
    """Each route separately: a stolen session cannot guess the password through the one form
    that forgot its limit."""
    factories.client_user(email="often@example.com", password="client password 1")
    limit = limits[0] if per == "address" else limits[1]
    web = WebClient(make_app(**{limit: "2 per hour"}).test_client())
    web.login("often@example.com", "client password 1")
    statuses = [web.post_form(url, {"current_password": "guess", "password": "x", "confirm": "x",
                                    "phone": "+447700900123"},
                              page_url="/settings/security").status_code for _ in range(3)]
    assert 429 not in statuses[:2] and statuses[2] == 429, statuses


def test_each_of_the_last_five_passwords_is_refused_and_the_sixth_comes_back(web, factories):
    """History 5 (the default): the current password and the four before it."""
    factories.client_user(email="hist5@example.com", password="amber falcon river")
    web.login("hist5@example.com", "amber falcon river")
    chain = ["amber falcon river", "birch otter canyon", "cedar lynx harbor", "dune heron meadow",
             "ember moose glacier"]
    for current, new in zip(chain, chain[1:], strict=False):
        assert change(web, current=current, new=new).status_code == 302
    body = change(web, current=chain[-1], new=chain[0]).get_data(as_text=True)
    assert "You used this password recently. Choose another." in body  # the fifth-last
    assert change(web, current=chain[-1], new="fjord raven tundra").status_code == 302
    assert change(web, current="fjord raven tundra", new=chain[0]).status_code == 302  # now the sixth


def test_a_staff_members_login_is_refused_in_the_password(web, factories):
    factories.staff(login="quartermaster", email="qm@staff.example.com", name="Ann Other")
    web.login("quartermaster", "staff password 1")
    body = change(web, current="staff password 1", new="quartermaster kettle moon").get_data(as_text=True)
    assert "Do not use your login, email or name in the password." in body


def test_a_refused_new_password_is_not_echoed_and_the_notice_link_uses_public_url(client_web):
    body = change(client_web, new="client user pass 9").get_data(as_text=True)
    assert "Do not use your login, email or name in the password." in body
    assert "client user pass 9" not in body and "client password 1" not in body
    assert change(client_web).status_code == 302
    notice = messages(to="client@example.com")[-1]
    assert "http://portal.test/recover" in notice.body and "localhost" not in notice.body


def test_history_of_one_still_refuses_the_current_password(web, factories):
    """History 1: only the current password may not come back."""
    settings.update({"password.history": 1})
    db.session.commit()
    factories.client_user(email="hist1@example.com", password="amber falcon river")
    web.login("hist1@example.com", "amber falcon river")
    body = change(web, current="amber falcon river", new="amber falcon river").get_data(as_text=True)
    assert "You used this password recently. Choose another." in body
    assert change(web, current="amber falcon river").status_code == 302
    assert change(web, current=NEW, new="amber falcon river").status_code == 302


def test_history_keeps_no_more_old_hashes_than_it_needs(web, factories):
    """History 5 is the current hash and four before it: a fifth old hash is never kept."""
    user = factories.client_user(email="trim@example.com", password="amber falcon river")
    web.login("trim@example.com", "amber falcon river")
    chain = ["amber falcon river", "birch otter canyon", "cedar lynx harbor", "dune heron meadow",
             "ember moose glacier", "fjord raven tundra", "grove bison prairie"]
    for current, new in zip(chain, chain[1:], strict=False):
        assert change(web, current=current, new=new).status_code == 302
    kept = db.session.execute(select(PasswordHistory).where(PasswordHistory.user_id == user.id)).scalars().all()
    assert len(kept) == 4


def test_an_expired_password_is_not_announced_as_expiring(make_app, client_user):
    age_password(client_user.id, 91)
    web = WebClient(make_app(PASS_EXPIRE_PERIOD=90, PASS_EXPIRE_WARN_DAYS=7).test_client())
    web.login("client@example.com", "client password 1")
    body = web.get("/settings/password").get_data(as_text=True)
    assert "Your password expires in" not in body


def test_the_expired_password_page_gets_its_live_rules(make_app, client_user):
    age_password(client_user.id, 91)
    web = WebClient(make_app(PASS_EXPIRE_PERIOD=90).test_client())
    web.login("client@example.com", "client password 1")
    response = web.htmx("POST", "/password/check", page_url="/settings/password", data={"password": "short"})
    assert response.status_code == 200
    assert '<li class="fail">At least 12 characters</li>' in response.get_data(as_text=True)


def test_the_expired_password_page_sends_an_unexpired_user_back_to_settings(client_web):
    assert client_web.get("/settings/password").headers["Location"] == "/settings/general"
