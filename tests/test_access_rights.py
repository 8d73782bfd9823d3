"""Client users' Rights: chosen by staff or by the client's owner; the menu and URLs follow them."""

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Order, User
from portal.models.base import utcnow
from portal.services.permissions import GRANTABLE, functions_of
from tests.access_helpers import browser, staff_with
from tests.fraud_support import make_catalog

CLIENT_PASSWORD = "client password 1"


def make_client(factories, owner_email, *members):
    owner = factories.client_user(email=owner_email)
    return owner, [factories.client_user(email=email, client=owner.client) for email in members]


def test_owner_gives_a_user_the_right_to_see_finance(app, factories):
    owner, (member,) = make_client(factories, "owner@example.com", "member@example.com")
    member_web = browser(app, "member@example.com", CLIENT_PASSWORD)
    home = member_web.get("/home").get_data(as_text=True)
    assert 'href="/finance"' not in home and member_web.get("/finance").status_code == 403
    owner_web = browser(app, "owner@example.com", CLIENT_PASSWORD)
    assert "member@example.com" in owner_web.get("/users").get_data(as_text=True)
    response = owner_web.htmx("POST", f"/users/{member.id}/rights", page_url=f"/users/{member.id}/rights",
                              data={"rights": ["client.finance"]})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "Saved" in body
    assert 'href="/finance"' in member_web.get("/home").get_data(as_text=True)
    assert member_web.get("/finance").status_code == 200
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "rights_changed")).scalar_one()
    assert event.actor_id == owner.id and event.changes == {"rights": [[], ["client.finance"]]}


def test_edit_the_client_profile_is_a_right_the_owner_holds_and_can_give(app, factories):
    owner, (member,) = make_client(factories, "owner@example.com", "member@example.com")
    member_web = browser(app, "member@example.com", CLIENT_PASSWORD)
    assert 'href="/client-profile"' not in member_web.get("/home").get_data(as_text=True)
    assert member_web.post_form("/client-profile", {"name": "Taken over"}, page_url="/home").status_code == 403
    owner_web = browser(app, "owner@example.com", CLIENT_PASSWORD)
    assert 'href="/client-profile"' in owner_web.get("/home").get_data(as_text=True)
    owner_web.post_form(f"/users/{member.id}/rights", {"rights": ["client.profile"]})
    saved = member_web.post_form("/client-profile", {"name": "Member Renamed Ltd"})
    assert saved.headers["Location"] == "/client-profile"
    assert db.session.get(User, owner.id).client.name == "Member Renamed Ltd"
    assert "Client: Member Renamed Ltd" in owner_web.get("/home").get_data(as_text=True)


def test_the_client_profile_and_client_edit_save_like_every_other_form(app, factories):
    """The form's one Save is the primary button, as in General settings, not a plain one."""
    owner, _members = make_client(factories, "owner@example.com")
    save = '<input class="primary" name="submit" type="submit" value="Save">'
    assert save in browser(app, "owner@example.com", CLIENT_PASSWORD).get("/client-profile").get_data(as_text=True)
    editor = browser(app, staff_with(factories, "clients.view", "clients.edit", login="editor").login)
    assert save in editor.get(f"/admin/clients/{owner.client_id}/edit").get_data(as_text=True)


def test_new_user_starts_with_no_rights(factories):
    _owner, (member,) = make_client(factories, "owner@example.com", "member@example.com")
    assert functions_of(member) == {"client.home", "self.account"}


def test_staff_with_the_function_choose_rights(app, factories):
    _owner, (member,) = make_client(factories, "owner@example.com", "member@example.com")
    staff_with(factories, "users.view", "users.rights", login="support")
    web = browser(app, "support")
    assert "member@example.com" in web.get("/admin/users?q=member").get_data(as_text=True)
    response = web.post_form(f"/admin/users/{member.id}/rights", {"rights": ["client.order", "client.users"]})
    assert response.headers["Location"] == "/admin/users"
    assert functions_of(db.session.get(User, member.id)) >= {"client.order", "client.users"}


def test_user_with_users_right_cannot_grant_more_than_they_hold(app, factories):
    _owner, (manager, other) = make_client(factories, "owner@example.com", "manager@example.com",
                                           "other@example.com")
    staff_with(factories, "users.rights", login="support")
    browser(app, "support").post_form(f"/admin/users/{manager.id}/rights", {"rights": ["client.users"]})
    web = browser(app, "manager@example.com", CLIENT_PASSWORD)
    response = web.post_form(f"/users/{other.id}/rights", {"rights": ["client.finance"]})
    assert response.status_code == 422
    assert "You cannot grant what you do not hold: View finance." in response.get_data(as_text=True)
    response = web.post_form(f"/users/{manager.id}/rights", {"rights": ["client.users", "client.finance"]},
                             page_url="/users")
    assert response.status_code == 422 and "You cannot change your own rights." in response.get_data(as_text=True)
    assert functions_of(db.session.get(User, manager.id)) == {"client.home", "self.account", "client.users"}
    assert functions_of(db.session.get(User, other.id)) == {"client.home", "self.account"}


def test_user_with_users_right_cannot_change_someone_who_holds_more(app, factories):
    """Taking a right away is a change too: only the owner or staff touch a user holding more."""
    _owner, (manager, richer) = make_client(factories, "owner@example.com", "manager@example.com",
                                            "richer@example.com")
    support = browser(app, staff_with(factories, "users.rights", login="support").login)
    support.post_form(f"/admin/users/{manager.id}/rights", {"rights": ["client.users"]})
    support.post_form(f"/admin/users/{richer.id}/rights", {"rights": ["client.finance"]})
    web = browser(app, "manager@example.com", CLIENT_PASSWORD)
    response = web.post_form(f"/users/{richer.id}/rights", {"rights": []}, page_url="/users")
    assert response.status_code == 422
    assert "You cannot change a user who holds rights you do not hold." in response.get_data(as_text=True)
    assert "client.finance" in functions_of(db.session.get(User, richer.id))


def test_owner_rights_are_not_editable(app, factories):
    owner, _members = make_client(factories, "owner@example.com")
    staff_with(factories, "users.rights", login="support")
    response = browser(app, "support").post_form(f"/admin/users/{owner.id}/rights", {"rights": []},
                                                 page_url="/admin/users")
    assert response.status_code == 422 and "holds every right." in response.get_data(
        as_text=True)
    assert functions_of(owner) >= {"client.order", "client.finance"}


def test_another_clients_ids_get_404(app, factories):
    make_client(factories, "owner@example.com", "member@example.com")
    _other_owner, (stranger,) = make_client(factories, "rival@example.com", "stranger@example.com")
    web = browser(app, "owner@example.com", CLIENT_PASSWORD)
    for method in ("GET", "POST"):
        url = f"/users/{stranger.id}/rights"
        response = web.get(url) if method == "GET" else web.post_form(
            url, {"rights": ["client.order"]}, page_url="/users")
        assert response.status_code == 404
    assert "stranger@example.com" not in web.get("/users").get_data(as_text=True)
    assert "stranger@example.com" not in web.get("/users?q=stranger").get_data(as_text=True)
    assert functions_of(db.session.get(User, stranger.id)) == {"client.home", "self.account"}


def test_staff_ids_are_not_client_users(app, factories):
    admin = factories.staff(login="admin1")
    staff_with(factories, "users.rights", login="support")
    assert browser(app, "support").get(f"/admin/users/{admin.id}/rights").status_code == 404
    make_client(factories, "owner@example.com")
    assert browser(app, "owner@example.com", CLIENT_PASSWORD).get(f"/users/{admin.id}/rights").status_code == 404


def test_staff_see_the_verified_phone_in_the_users_list_and_user_form(app, factories):
    owner = factories.client_user(email="phoned@example.com", phone="+447700900123",
                                  phone_verified_at=utcnow())
    member = factories.client_user(email="member2@example.com", client=owner.client,
                                   phone="+447700900456")
    staff = browser(app, staff_with(factories, "users.view", "users.rights").login)
    listing = staff.get("/admin/users?q=phoned").get_data(as_text=True)
    assert "+447700900123" in listing and "verified" in listing
    form = staff.get(f"/admin/users/{member.id}/rights").get_data(as_text=True)
    assert "+447700900456" in form and "not verified" in form


def test_editing_rights_alone_does_not_open_a_users_personal_data(app, factories):
    owner = factories.client_user(email="private@example.com", name="Priya Private", phone="+447700900777")
    member = factories.client_user(email="member3@example.com", client=owner.client)
    web = browser(app, staff_with(factories, "users.rights", login="rights-only").login)
    for user in (owner, member):
        page = web.get(f"/admin/users/{user.id}/rights")
        body = page.get_data(as_text=True)
        assert page.status_code == 200 and f"Rights of User #{user.id}" in body
        for personal in (user.email, "Priya Private", "+447700900777"):
            assert personal not in body, personal
    assert 'href="/admin/users"' not in body  # no way back to a list they cannot see
    unlocker = browser(app, staff_with(factories, "users.unlock", login="unlock-only").login)
    token = unlocker.csrf_token("/admin/")
    unlocked = unlocker.client.post(f"/admin/users/{member.id}/unlock", data={"csrf_token": token})
    assert unlocked.headers["Location"] == "/admin/"  # not the list they cannot see
    unlocked = unlocker.get("/admin/").get_data(as_text=True)
    assert f"User #{member.id} is unlocked." in unlocked
    assert "member3@example.com" not in unlocked
    saved = web.post_form(f"/admin/users/{member.id}/rights", {"rights": ["client.order"]})
    assert saved.headers["Location"] == f"/admin/users/{member.id}/rights"  # not the list they cannot see
    assert f"Rights of User #{member.id} saved." in web.get(saved.headers["Location"]).get_data(as_text=True)
    assert "client.order" in functions_of(db.session.get(User, member.id))
    viewer = browser(app, staff_with(factories, "users.view", "users.rights", login="viewer").login)
    body = viewer.get(f"/admin/users/{owner.id}/rights").get_data(as_text=True)
    assert "Rights of private@example.com" in body and "+447700900777" in body


def test_ordering_is_a_right_the_owner_holds_and_can_give(app, factories):
    plan = make_catalog()["hosting"]
    owner, (member,) = make_client(factories, "owner@example.com", "member@example.com")
    member_web = browser(app, "member@example.com", CLIENT_PASSWORD)
    for url in ("/orders", "/order", f"/order/{plan}", "/verify-phone"):
        assert member_web.get(url).status_code == 403, url
        assert member_web.get(url, headers={"HX-Request": "true"}).status_code == 403, url
    assert member_web.post_form(f"/order/{plan}", {}, page_url="/home").status_code == 403
    assert db.session.execute(select(Order)).first() is None
    owner_web = browser(app, "owner@example.com", CLIENT_PASSWORD)
    owner_web.post_form(f"/users/{member.id}/rights", {"rights": ["client.order"]})
    assert member_web.get("/orders").status_code == 200 and member_web.get(f"/order/{plan}").status_code == 200


def test_staff_changes_are_audited_once_and_saving_the_same_rights_again_writes_nothing(app, factories):
    _owner, (member,) = make_client(factories, "owner@example.com", "member@example.com")
    support = staff_with(factories, "users.rights", login="support")
    web = browser(app, "support")
    for _ in range(2):
        web.post_form(f"/admin/users/{member.id}/rights", {"rights": ["client.order"]})
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "rights_changed")).scalars().all()
    assert [(e.actor_id, e.target_id, e.changes) for e in events] == [
        (support.id, member.id, {"rights": [[], ["client.order"]]})]


def test_the_rights_form_offers_only_what_its_editor_may_grant(app, factories):
    _owner, (manager, other) = make_client(factories, "owner@example.com", "manager@example.com",
                                           "other@example.com")
    support = browser(app, staff_with(factories, "users.rights", login="support").login)
    support.post_form(f"/admin/users/{manager.id}/rights", {"rights": ["client.users", "client.order"]})
    form = browser(app, "manager@example.com", CLIENT_PASSWORD).get(f"/users/{other.id}/rights").get_data(as_text=True)
    assert "Rights of other@example.com" in form  # the client's own users are named, not numbered
    boxes = {code: tag for tag, code in re.findall(r'(<input[^>]*name="rights" value="([^"]+)"[^>]*>)', form)}
    assert sorted(code for code, tag in boxes.items() if "disabled" not in tag) == ["client.order", "client.users"]
    assert sorted(boxes) == sorted(GRANTABLE["client"])
    staff_form = support.get(f"/admin/users/{other.id}/rights").get_data(as_text=True)
    assert "disabled" not in "".join(re.findall(r'<input[^>]*name="rights"[^>]*>', staff_form))


def test_a_right_left_unticked_is_taken_away(app, factories):
    _owner, (member,) = make_client(factories, "owner@example.com", "member@example.com")
    web = browser(app, "owner@example.com", CLIENT_PASSWORD)
    web.post_form(f"/users/{member.id}/rights", {"rights": ["client.order", "client.finance"]})
    web.post_form(f"/users/{member.id}/rights", {"rights": ["client.order"]})
    assert functions_of(db.session.get(User, member.id)) == {"client.home", "self.account", "client.order"}
    member_web = browser(app, "member@example.com", CLIENT_PASSWORD)
    assert member_web.get("/finance").status_code == 403 and member_web.get("/orders").status_code == 200
    form = web.get(f"/users/{member.id}/rights").get_data(as_text=True)
    assert [code for tag, code in re.findall(r'(<input[^>]*name="rights" value="([^"]+)"[^>]*>)', form)
            if "checked" in tag] == ["client.order"]
