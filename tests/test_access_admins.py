"""Administrators: Deny access inline, add and edit, and no escalation by form or forged POST."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User, UserSession
from portal.models.access import AccessGroup, UserFunction, user_access_group
from portal.services.access import seed_groups
from portal.services.permissions import functions_of
from portal.services.recovery import LINK_INVALID
from tests.access_helpers import PASSWORD, browser, staff_with
from tests.api_helpers import bearer, make_token
from tests.outbox import messages, path_in
from tests.statements import recorded


def audit(action):
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


def deny(web, user, denied=True, htmx=True):
    data = {"denied": "y"} if denied else {}
    url = f"/admin/administrators/{user.id}/deny-access"
    if htmx:
        return web.htmx("POST", url, page_url="/admin/administrators", data=data)
    return web.post_form(url, data, page_url="/admin/administrators")


def test_a_toggle_from_a_page_whose_session_ended_keeps_its_row_and_says_why(staff_web, factories):
    """Signed out in another tab: the toggle's refusal goes to the page's messages, not into the row."""
    target = factories.staff(login="leaver")
    token = staff_web.csrf_token("/admin/administrators")
    staff_web.post_form("/logout", {}, page_url="/admin/administrators")
    refused = staff_web.client.post(f"/admin/administrators/{target.id}/deny-access", data={"denied": "y"},
                                    headers={"HX-Request": "true", "X-CSRFToken": token})
    assert refused.status_code == 400 and "Your form expired" in refused.get_data(as_text=True)
    assert refused.headers["HX-Retarget"] == "#messages" and refused.headers["HX-Reswap"] == "innerHTML"
    assert not db.session.get(User, target.id).access_denied


def test_deny_access_ends_every_session_on_the_next_request(app, staff_web, staff_user, factories):
    victim = factories.staff(login="leaver", password=PASSWORD)
    first, second = browser(app, "leaver"), browser(app, "leaver")
    assert first.get("/admin/").status_code == 200 and second.get("/admin/").status_code == 200
    token = make_token(first, scopes=("self.account",))
    api = app.test_client()
    assert api.get("/api/v1/whoami", headers=bearer(token)).status_code == 200
    response = deny(staff_web, victim)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert f'id="admin-{victim.id}"' in body and 'class="denied"' in body and "checked" in body
    for web in (first, second):
        refused = web.get("/admin/")
        assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert api.get("/api/v1/whoami", headers=bearer(token)).status_code == 401
    assert db.session.execute(select(UserSession).where(
        UserSession.user_id == victim.id, UserSession.revoked_at.is_(None))).first() is None
    event = audit("access_denied")[0]
    assert event.actor_id == staff_user.id and event.target_id == victim.id
    assert event.changes == {"access_denied": [False, True]} and event.ip == "127.0.0.1"
    login = browser(app).post_form("/login", {"login": "leaver", "password": PASSWORD})
    assert login.status_code == 200 and "Wrong login or password." in login.get_data(as_text=True)


def test_restore_access(app, staff_web, factories):
    victim = factories.staff(login="back", password=PASSWORD, access_denied=True)
    response = deny(staff_web, victim, denied=False)
    assert response.status_code == 200 and "checked" not in response.get_data(as_text=True)
    assert db.session.get(User, victim.id).access_denied is False
    assert audit("access_restored")[0].target_id == victim.id
    browser(app, "back")


def test_deny_without_htmx_redirects_to_the_list(staff_web, factories):
    victim = factories.staff(login="plain")
    response = deny(staff_web, victim, htmx=False)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/administrators"
    assert db.session.get(User, victim.id).access_denied is True


def test_nobody_denies_themselves(staff_web, staff_user):
    response = deny(staff_web, staff_user)
    assert response.status_code == 422
    assert "You cannot deny your own access." in response.get_data(as_text=True)
    assert db.session.get(User, staff_user.id).access_denied is False
    assert staff_web.get("/admin/").status_code == 200


def test_the_list_marks_ones_own_row_which_is_why_it_cannot_be_changed(staff_web, staff_user, factories):
    other = factories.staff(login="colleague", password=PASSWORD)
    page = staff_web.get("/admin/administrators").get_data(as_text=True)
    own = page.split(f'id="admin-{staff_user.id}"')[1].split("</tr>")[0]
    theirs = page.split(f'id="admin-{other.id}"')[1].split("</tr>")[0]
    assert '<span class="badge">you</span>' in own and "disabled" in own
    assert "you</span>" not in theirs and "disabled" not in theirs


def test_only_full_access_denies_full_access(app, factories):
    full = factories.staff(login="last", full_access=True)
    staff_with(factories, "admins.view", "admins.manage", login="manager")
    response = deny(browser(app, "manager"), full)
    assert response.status_code == 422
    assert "holds functions you do not hold" in response.get_data(as_text=True)
    assert db.session.get(User, full.id).access_denied is False


def test_one_full_access_admin_may_deny_another(app, staff_web, factories):
    other = factories.staff(login="other", full_access=True)
    assert deny(staff_web, other).status_code == 200
    assert db.session.get(User, other.id).access_denied is True


def test_the_last_full_access_admin_keeps_it(staff_web, staff_user):
    response = staff_web.post_form(f"/admin/administrators/{staff_user.id}", {
        "login": "boss", "email": staff_user.email, "name": "Boss"})
    assert response.status_code == 200
    assert "This is the last administrator with Full access." in response.get_data(as_text=True)
    assert db.session.get(User, staff_user.id).full_access is True


def test_list_is_searchable_with_htmx(staff_web, factories):
    factories.staff(login="alice")
    factories.staff(login="bob")
    response = staff_web.get("/admin/administrators?q=ali", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="results"' in body
    assert "alice" in body and "bob" not in body
    assert "Deny access" in body


def test_add_administrator_with_groups_and_functions(staff_web, staff_user):
    groups = seed_groups()
    db.session.commit()
    response = staff_web.post_form("/admin/administrators/new", {
        "login": "newbie", "email": "Newbie@Example.com", "name": "New Bie",
        "groups": str(groups["Finance"].id), "functions": ["logs.audit"], "modules": ["Users"],
        "current_password": PASSWORD},
        page_url="/admin/administrators/new")
    assert response.status_code == 302, response.get_data(as_text=True)
    user = db.session.execute(select(User).where(User.login == "newbie")).scalar_one()
    assert user.is_staff and user.email == "newbie@example.com" and user.password_hash is None
    assert not user.full_access
    assert functions_of(user) == {"dashboard.view", "self.account", "logs.audit", "users.view",
                                  "users.rights", "users.unlock", "users.reset_2fa"} | groups["Finance"].codes
    created = audit("admin_created")[0]
    assert created.actor_id == staff_user.id and created.changes["groups"] == [None, ["Finance"]]
    [invite] = messages(to="newbie@example.com")
    assert invite.subject == "Welcome: set your password"
    set_password_path = path_in(invite.body, "/recover/reset/")
    assert staff_web.application.test_client().get(set_password_path).status_code == 200


def invite_path(email: str) -> str:
    invite = messages(to=email)[-1]
    assert invite.subject == "Welcome: set your password"
    return path_in(invite.body, "/recover/reset/")


def test_a_corrected_email_kills_the_invite_sent_to_the_mistyped_one_and_invites_again(staff_web):
    """Whoever reads the mistyped mailbox must not set the new administrator's password."""
    staff_web.post_form("/admin/administrators/new", {"login": "typo", "email": "typo@wrong.example", "name": "Typo",
                                                      "current_password": PASSWORD})
    mistyped = invite_path("typo@wrong.example")
    target = db.session.execute(select(User).where(User.login == "typo")).scalar_one()
    corrected = staff_web.post_form(f"/admin/administrators/{target.id}", {
        "login": "typo", "email": "typo@right.example", "name": "Typo", "current_password": PASSWORD})
    assert corrected.status_code == 302
    assert "A link to set a password was emailed to typo@right.example." in staff_web.get(
        corrected.headers["Location"]).get_data(as_text=True)
    stranger = staff_web.application.test_client()
    assert LINK_INVALID in stranger.get(mistyped, follow_redirects=True).get_data(as_text=True)
    assert "New password" in stranger.get(invite_path("typo@right.example")).get_data(as_text=True)


def test_new_administrator_created_even_when_the_invite_cannot_be_sent(make_app, smtp, factories):
    from tests.web import WebClient

    factories.staff(login="boss2", password="staff password 1", full_access=True)
    smtp.stop()
    web = WebClient(make_app(**smtp.app_config()).test_client())
    web.login("boss2", "staff password 1")
    response = web.post_form("/admin/administrators/new", {
        "login": "offline", "email": "offline@example.com", "name": "Off Line", "current_password": PASSWORD},
        page_url="/admin/administrators/new", follow_redirects=True)
    assert "could not be sent" in response.get_data(as_text=True)
    assert db.session.execute(select(User).where(User.login == "offline")).scalar_one()


def test_add_administrator_keeps_input_on_error(staff_web, factories):
    factories.staff(login="taken")
    response = staff_web.post_form("/admin/administrators/new", {
        "login": "taken", "email": "fresh@example.com", "name": "Fresh"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "already exists" in body and 'value="fresh@example.com"' in body


def test_edit_administrator_is_audited_with_before_and_after(staff_web, factories):
    target = staff_with(factories, "clients.view", login="editme")
    response = staff_web.post_form(f"/admin/administrators/{target.id}", {
        "login": "editme", "email": target.email, "name": "Edited", "functions": ["orders.view"]})
    assert response.status_code == 302
    assert functions_of(db.session.get(User, target.id)) == {"dashboard.view", "self.account", "orders.view"}
    changes = audit("admin_changed")[0].changes
    assert changes["functions"] == [["clients.view"], ["orders.view"]]
    assert changes["name"] == ["Editme", "Edited"]


def test_an_email_set_by_staff_is_told_to_the_address_it_replaces(staff_web, factories):
    """Recovery goes to the email: its owner learns when someone else moved it."""
    target = staff_with(factories, "clients.view", login="moved")
    old_email = target.email
    staff_web.post_form(f"/admin/administrators/{target.id}", {
        "login": "moved", "email": "moved-elsewhere@example.com", "name": "Moved", "functions": ["clients.view"],
        "current_password": PASSWORD})
    [notice] = messages(to=old_email)
    assert notice.subject == "Your email address was changed"
    assert "An administrator changed" in notice.body and "moved-elsewhere@example.com" in notice.body
    assert audit("admin_changed")[0].changes["email"] == [old_email, "moved-elsewhere@example.com"]
    staff_web.post_form(f"/admin/administrators/{target.id}", {  # no email change, no notice
        "login": "moved", "email": "moved-elsewhere@example.com", "name": "Renamed", "functions": ["clients.view"]})
    assert messages(subject="Your email address was changed") == [notice]


def test_nobody_moves_their_own_email_from_the_administrator_form(staff_web, staff_user):
    """One's own address changes in General settings, with the password and a link to the new
    mailbox: a session alone, stolen or left open, must not move the account's recovery here."""
    response = staff_web.post_form(f"/admin/administrators/{staff_user.id}", {
        "login": "boss", "email": "thief@evil.example", "name": "Boss", "full_access": "y"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert '<p class="error" id="email-error">Change your own email address in General settings' in body
    assert 'value="thief@evil.example"' in body  # what was typed stays in the field
    db.session.expire_all()
    assert db.session.get(User, staff_user.id).email != "thief@evil.example"
    assert audit("admin_changed") == [] and messages(subject="Your email address was changed") == []
    renamed = staff_web.post_form(f"/admin/administrators/{staff_user.id}", {  # the rest of the form still saves
        "login": "boss", "email": staff_user.email, "name": "Big Boss", "full_access": "y"})
    assert renamed.status_code == 302 and db.session.get(User, staff_user.id).name == "Big Boss"


def test_an_administrator_with_a_password_is_not_invited_again_when_staff_change_the_email(staff_web, factories):
    """Only a password-less administrator's invite is sent again: a set-password link to the new
    address would let its reader replace a password the administrator already has."""
    target = staff_with(factories, "clients.view", login="settled")
    moved = staff_web.post_form(f"/admin/administrators/{target.id}", {
        "login": "settled", "email": "settled-elsewhere@example.com", "name": "Settled",
        "functions": ["clients.view"], "current_password": PASSWORD})
    assert moved.status_code == 302
    assert "A link to set a password" not in staff_web.get(moved.headers["Location"]).get_data(as_text=True)
    assert messages(to="settled-elsewhere@example.com") == []


def test_form_offers_only_what_the_actor_holds(app, factories):
    staff_with(factories, "admins.view", "admins.manage", "clients.view", login="limited")
    web = browser(app, "limited")
    body = web.get("/admin/administrators/new").get_data(as_text=True)
    assert not _disabled(body, 'value="clients.view"')
    assert _disabled(body, 'value="finance.payments"') and _disabled(body, 'value="admins.manage"') is False
    assert _disabled(body, 'name="full_access"')


def _disabled(body, attribute):
    """Whether the <input> carrying `attribute` is disabled."""
    at = body.index(attribute)
    return "disabled" in body[body.rindex("<input", 0, at):body.index(">", at)]


def test_escalation_by_forged_post_is_refused(app, factories):
    limited = staff_with(factories, "admins.view", "admins.manage", "clients.view", login="limited")
    web = browser(app, "limited")
    attempts = [
        {"functions": ["finance.payments"]},
        {"functions": ["clients.view", "logs.audit"]},
        {"full_access": "y"},
        {"groups": str(seed_groups()["Finance"].id)},
    ]
    db.session.commit()
    for number, extra in enumerate(attempts):
        response = web.post_form("/admin/administrators/new", {
            "login": f"pawn{number}", "email": f"pawn{number}@example.com", **extra},
            page_url="/admin/administrators/new")
        assert response.status_code == 200, extra
        assert "You cannot grant what you do not hold" in response.get_data(as_text=True) or \
            "Only an administrator with Full access can grant Full access." in response.get_data(as_text=True)
    assert db.session.execute(select(User).where(User.login.like("pawn%"))).first() is None
    # ...nor on themselves
    response = web.post_form(f"/admin/administrators/{limited.id}", {
        "login": "limited", "email": limited.email, "functions": ["clients.view", "logs.audit"]})
    assert response.status_code == 200
    assert functions_of(db.session.get(User, limited.id)) == {
        "dashboard.view", "self.account", "admins.view", "admins.manage", "clients.view"}
    # ...and a module expands only to what the actor holds
    response = web.post_form("/admin/administrators/new", {
        "login": "moduled", "email": "moduled@example.com", "modules": ["Clients", "Finance"],
        "current_password": PASSWORD},
        page_url="/admin/administrators/new")
    assert response.status_code == 302
    codes = db.session.execute(select(UserFunction.code).join(User, User.id == UserFunction.user_id)
                               .where(User.login == "moduled")).scalars().all()
    assert codes == ["clients.view"]


def test_nobody_changes_someone_who_holds_more(app, factories):
    staff_with(factories, "admins.view", "admins.manage", login="limited")
    stronger = staff_with(factories, "admins.manage", "logs.audit", login="stronger")
    full = factories.staff(login="fullone", full_access=True)
    web = browser(app, "limited")
    for target in (stronger, full):
        response = web.post_form(f"/admin/administrators/{target.id}", {
            "login": target.login, "email": "stolen@example.com"})
        assert "You cannot change an administrator who holds functions you do not hold." in \
            response.get_data(as_text=True)
        assert deny(web, target).status_code == 422
        assert db.session.get(User, target.id).email != "stolen@example.com"
        assert db.session.get(User, target.id).access_denied is False


def test_the_list_marks_who_a_limited_manager_may_change_in_the_same_queries_for_any_rows(app, factories):
    manager = staff_with(factories, "admins.view", "admins.manage", "logs.audit", login="limited")
    weaker = [staff_with(factories, "logs.audit", login=f"weaker{n}") for n in range(2)]
    stronger = staff_with(factories, "admins.manage", "logs.auth", login="stronger")
    grouped = staff_with(factories, login="grouped")
    finance = seed_groups()["Finance"]
    db.session.flush()
    db.session.execute(user_access_group.insert().values(user_id=grouped.id, group_id=finance.id))
    db.session.commit()  # holds more through a group
    web = browser(app, "limited")
    with app.app_context():
        engine = db.engine  # the app's, not the test body's twin

    def rendered() -> tuple[str, int]:
        with recorded(engine) as statements:
            body = web.get("/admin/administrators").get_data(as_text=True)
        return body, len(statements)

    body, few = rendered()
    for user in weaker:
        assert f'href="/admin/administrators/{user.id}"' in body
    for user in (stronger, grouped, manager):
        assert f'href="/admin/administrators/{user.id}"' not in body
    for n in range(2, 12):
        staff_with(factories, "logs.audit", login=f"weaker{n}")
    body, many = rendered()
    assert body.count('href="/admin/administrators/') >= 12 and 0 < many == few


def test_access_groups_page_and_editing(staff_web):
    groups = seed_groups()
    db.session.commit()
    body = staff_web.get("/admin/access-permissions").get_data(as_text=True)
    assert all(name in body for name in ("Finance", "Technical support", "Sales"))
    response = staff_web.post_form("/admin/access-permissions/new", {
        "name": "Auditors", "description": "Read the logs", "modules": ["Logs"]})
    assert response.status_code == 302
    auditors = db.session.execute(select(AccessGroup).where(AccessGroup.name == "Auditors")).scalar_one()
    assert auditors.codes == {"logs.auth", "logs.audit"}
    response = staff_web.post_form(f"/admin/access-permissions/{groups['Sales'].id}", {
        "name": "Sales", "functions": ["clients.view"]})
    assert response.status_code == 302
    assert audit("group_changed")[0].changes["functions"] == [
        ["clients.view", "finance.reports", "orders.view"], ["clients.view"]]


def test_group_cannot_carry_more_than_the_actor_holds(app, factories):
    staff_with(factories, "admins.view", "admins.manage", "logs.auth", login="limited")
    finance = seed_groups()["Finance"]
    db.session.commit()
    web = browser(app, "limited")
    response = web.post_form("/admin/access-permissions/new", {"name": "Sneaky", "functions": ["logs.audit"]})
    assert "You cannot grant what you do not hold" in response.get_data(as_text=True)
    response = web.post_form(f"/admin/access-permissions/{finance.id}", {"name": "Finance"})
    assert "You cannot change a group" in response.get_data(as_text=True)
    assert db.session.execute(select(AccessGroup).where(AccessGroup.name == "Sneaky")).first() is None


def test_a_shared_group_is_not_a_way_round_who_may_change_whom(app, factories):
    """Changing a group changes its members: a limited manager who may not edit a stronger
    administrator may not edit a group that administrator is in, even one of their own functions."""
    sales = seed_groups()["Sales"]
    limited = staff_with(factories, "admins.view", "admins.manage", *sorted(sales.codes), login="limited")
    stronger = staff_with(factories, "admins.manage", "logs.audit", login="stronger")
    db.session.execute(user_access_group.insert(), [{"user_id": user.id, "group_id": sales.id}
                                                    for user in (limited, stronger)])
    db.session.commit()
    web = browser(app, "limited")
    response = web.post_form(f"/admin/access-permissions/{sales.id}", {"name": "Sales", "functions": []})
    assert response.status_code == 200
    assert "Members of this group hold functions you do not hold" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(AccessGroup, sales.id).codes == sales.codes
    assert sales.codes <= functions_of(db.session.get(User, stronger.id))

    db.session.execute(user_access_group.delete().where(user_access_group.c.user_id == stronger.id))
    db.session.commit()  # now every member holds no more than the manager
    response = web.post_form(f"/admin/access-permissions/{sales.id}", {"name": "Sales", "functions": ["clients.view"]})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(AccessGroup, sales.id).codes == {"clients.view"}


def test_viewing_administrators_is_not_managing_them(app, factories):
    """A viewer holds everything a bare administrator holds, so only the function stops them."""
    target = staff_with(factories, login="target")
    web = browser(app, staff_with(factories, "admins.view", login="viewer").login)
    assert web.get("/admin/administrators").status_code == 200
    for htmx in (True, False):
        assert deny(web, target, htmx=htmx).status_code == 403
    assert web.post_form(f"/admin/administrators/{target.id}/unlock", {},
                         page_url="/admin/administrators").status_code == 403
    assert web.get(f"/admin/administrators/{target.id}").status_code == 403
    assert db.session.get(User, target.id).access_denied is False and audit("access_denied") == []


def test_restoring_access_revives_no_session_or_token_from_before_the_deny(app, staff_web, factories):
    """Deny revokes at once: a browser that made no request while denied, and its API token,
    stay out after access is restored."""
    victim = factories.staff(login="returner", password=PASSWORD)
    untouched = browser(app, "returner")
    token = make_token(untouched, scopes=("self.account",))
    deny(staff_web, victim)
    deny(staff_web, victim, denied=False)
    assert db.session.get(User, victim.id).access_denied is False
    refused = untouched.get("/admin/")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert browser(app).get("/api/v1/whoami", headers=bearer(token)).status_code == 401
