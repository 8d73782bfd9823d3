"""The functions registry: every route names a function, and the guard answers exactly as it says."""

import pytest
from flask import url_for
from sqlalchemy import select

from portal.extensions import db
from portal.models import KeycloakRoleMapping
from portal.models.access import AccessGroup, UserFunction, user_access_group
from portal.models.compliance import ErasureJob
from portal.services import consent, modules, permissions
from portal.services.access import seed_groups
from portal.services.permissions import BASELINE, FUNCTIONS, GRANTABLE, functions_of, has_function
from tests.access_helpers import browser, staff_with
from tests.web import CSRF_REFUSAL

AREA_OF_BLUEPRINT = {"admin": {"staff", "self"}, "client": {"client", "self"}}


def test_every_route_names_a_function_or_is_public(app):
    """Walks the whole url_map, so blueprints added later are covered too."""
    unnamed, unknown, public_staff = [], [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "required_function"):
            unnamed.append(rule.rule)
            continue
        code = view.required_function
        blueprint = rule.endpoint.partition(".")[0]
        if code is None:
            if blueprint in AREA_OF_BLUEPRINT:
                public_staff.append(rule.rule)
        elif code not in FUNCTIONS:
            unknown.append(rule.rule)
        elif blueprint in AREA_OF_BLUEPRINT and FUNCTIONS[code].area not in AREA_OF_BLUEPRINT[blueprint]:
            unknown.append(f"{rule.rule} names {code} of another area")
    assert unnamed == [] and unknown == [] and public_staff == []


def test_every_blueprint_with_routes_is_guarded(app):
    guarded = {name for name, hooks in app.before_request_funcs.items() if name and any(
        hook.__name__ == "_check_function" for hook in hooks)}
    blueprints = {rule.endpoint.partition(".")[0] for rule in app.url_map.iter_rules()
                  if "." in rule.endpoint and app.view_functions[rule.endpoint].required_function}
    assert blueprints <= guarded


def test_unknown_function_is_an_error():
    with pytest.raises(KeyError):
        permissions.requires("no.such.function")


def test_rights_are_full_access_or_groups_and_own_functions(app, factories):
    groups = seed_groups()
    db.session.commit()
    plain = staff_with(factories, "logs.audit")
    db.session.execute(user_access_group.insert().values(
        user_id=plain.id, group_id=groups["Finance"].id))
    db.session.commit()
    assert functions_of(plain) == BASELINE["staff"] | groups["Finance"].codes | {"logs.audit"}
    full = factories.staff(full_access=True)
    assert functions_of(full) == set(GRANTABLE["staff"]) | BASELINE["staff"]
    assert not has_function(full, "client.order")
    denied = factories.staff(full_access=True, access_denied=True)
    assert functions_of(denied) == frozenset()


def test_client_owner_holds_every_right_and_a_new_user_none(app, factories):
    owner = factories.client_user()
    user = factories.client_user(client=owner.client)
    assert functions_of(owner) == set(GRANTABLE["client"]) | BASELINE["client"]
    assert functions_of(user) == BASELINE["client"]
    db.session.add(UserFunction(user_id=user.id, code="admins.manage"))  # a staff code never counts
    db.session.commit()
    assert not has_function(user, "admins.manage")


def test_seeded_groups(app):
    seed_groups()
    seed_groups()
    db.session.commit()
    names = db.session.execute(select(AccessGroup.name).order_by(AccessGroup.name)).scalars().all()
    assert names == ["Finance", "Sales", "Technical support"]


# --- the matrix ---------------------------------------------------------------------------


@pytest.fixture
def world(app, factories):
    """One of everything an admin URL can point at."""
    owner = factories.client_user(email="owner@example.com")
    member = factories.client_user(email="member@example.com", client=owner.client)
    target = factories.staff(login="target")
    group = seed_groups()["Sales"]
    modules.install(modules.GDPR_CLEAR_DATA)  # else Clear data's routes answer 404
    erased = factories.client_user(email="erased@example.com").client
    job = ErasureJob(client_id=erased.id, requested_by_id=target.id, rows_changed={})
    document = consent.create_document("Terms", required=False)
    mapping = KeycloakRoleMapping(provider_id=owner.provider_id, role="portal-admin", full_access=False)
    db.session.add_all([job, mapping])
    db.session.commit()
    return {"owner": owner, "member": member, "target": target, "group": group, "client": owner.client,
            "job": job, "document_id": document.id, "mapping_id": mapping.id}  # ids: the matrix deletes rows


def _url_values(app, rule, world) -> dict:
    """Values that reach the view: each id names a row that exists and suits the route."""
    job = {"client_id": world["job"].client_id, "job_id": world["job"].id}
    member = {"user_id": world["member"].id}
    module = {"key": modules.GDPR_CLEAR_DATA.key}
    by_endpoint = {"admin.user_rights": member, "admin.unlock_user": member, "admin.reset_user_two_factor": member,
                   "gdpr.clear_data_progress": job, "gdpr.clear_data_step": job,
                   "gdpr.install_module": module, "gdpr.uninstall_module": module,
                   "gdpr.transfer_basis": {"key": "vonage"}}
    by_name = {"user_id": world["target"].id, "client_id": world["client"].id,
               "group_id": world["group"].id, "document_id": world["document_id"],
               "mapping_id": world["mapping_id"], "job_id": world["job"].id, "provider_id": world["owner"].provider_id}
    values = {**by_name, **by_endpoint.get(rule.endpoint, {})}
    return {name: values[name] for name in rule.arguments}


def _staff_rules(app):
    """Every page and partial that names a staff function, whichever blueprint serves it
    (the API authenticates by token, never by the session: tests/test_api.py covers it)."""
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            continue
        code = getattr(app.view_functions[rule.endpoint], "required_function", None)
        if code in FUNCTIONS and FUNCTIONS[code].area == "staff":
            rules.append(rule)
    return rules


def _check(response, allowed: bool, anonymous: bool, hx: bool, method: str, rule):
    where = f"{method} {rule.rule} hx={hx}"
    body = response.get_data(as_text=True)
    if anonymous:
        if hx:
            assert response.status_code == 401 and "/login" in response.headers["HX-Redirect"], where
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], where
    elif allowed:  # the view ran: a page, a redirect after the change, or its form's refusal
        assert response.status_code in ((200, 302) if method == "GET" else (200, 302, 422)), where
        assert CSRF_REFUSAL not in body, where
        if response.status_code == 302:
            assert "/login" not in response.headers["Location"], where
    else:
        assert response.status_code == 403, where
        assert ("<html" in body) != hx, where
        assert 'data-status="403"' in body, where


@pytest.mark.parametrize("hx", [False, True], ids=["page", "htmx"])
def test_matrix_of_admin_routes(app, factories, world, hx):
    """Each admin route and partial, by a holder of its function, a staff member without it,
    a client user and an anonymous visitor: allowed or refused exactly as the registry says."""
    client_web = browser(app, "owner@example.com", "client password 1")
    anonymous = browser(app)
    staff_with(factories, login="bare")
    bare_web = browser(app, "bare")
    rules = _staff_rules(app)
    assert len(rules) >= 15
    holders = {}  # one signed-in holder per function, so the logins stay under the IP limit
    for number, rule in enumerate(rules):
        code = app.view_functions[rule.endpoint].required_function
        if code in BASELINE["staff"]:
            holder_web = bare_web
        elif code in holders:
            holder_web = holders[code]
        else:
            holder = staff_with(factories, code, login=f"holder{number}")
            holder_web = holders[code] = browser(app, holder.login)
        with app.test_request_context():
            url = url_for(rule.endpoint, **_url_values(app, rule, world))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            people = [(holder_web, True, False), (bare_web, code in BASELINE["staff"], False),
                      (client_web, False, False), (anonymous, False, True)]
            for web, allowed, is_anonymous in people:
                headers = {"HX-Request": "true"} if hx else {}
                if method == "GET":
                    response = web.get(url, headers=headers)
                else:
                    token = web.csrf_token("/login" if is_anonymous else "/settings/general")
                    response = web.open(url, method=method, headers={**headers, "X-CSRFToken": token})
                _check(response, allowed, is_anonymous, hx, method, rule)
                if rule.endpoint == "gdpr.uninstall_module":  # the Clear data routes need it back
                    modules.install(modules.GDPR_CLEAR_DATA)
                    db.session.commit()


def test_client_area_refuses_what_the_user_may_not_use(app, world):
    member = browser(app, "member@example.com", "client password 1")
    owner = browser(app, "owner@example.com", "client password 1")
    for url in ("/finance", "/users", f"/users/{world['owner'].id}/rights"):
        page, fragment = member.get(url), member.get(url, headers={"HX-Request": "true"})
        assert page.status_code == fragment.status_code == 403
        assert "<html" in page.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
        assert all('data-status="403"' in r.get_data(as_text=True) for r in (page, fragment))
        assert owner.get(url).status_code == 200
    assert browser(app).get("/finance").status_code == 302


def test_staff_cannot_use_the_client_area(app, staff_web):
    assert staff_web.get("/finance").status_code == 403
    assert staff_web.get("/home").status_code == 403


# What each staff and client route needs, written out: the matrix above reads the function off
# the view, so a view that names a weaker one (Balance's neighbour, View for Manage) passes it.
FUNCTION_OF_ENDPOINT = {
    "admin.access_permissions": "admins.view",
    "admin.add_role_mapping": "settings.methods",
    "admin.administrators": "admins.view",
    "admin.audit_log": "logs.audit",
    "admin.auth_log": "logs.auth",
    "admin.auth_methods_default": "settings.methods",
    "admin.auth_methods_page": "settings.methods",
    "admin.client_card": "clients.view",
    "admin.clients": "clients.view",
    "admin.deny_access": "admins.manage",
    "admin.edit_administrator": "admins.manage",
    "admin.edit_client": "clients.edit",
    "admin.edit_group": "admins.manage",
    "admin.finance_balance": "finance.balance",
    "admin.finance_expenses": "finance.expenses",
    "admin.finance_payments": "finance.payments",
    "admin.finance_reports": "finance.reports",
    "admin.new_administrator": "admins.manage",
    "admin.new_group": "admins.manage",
    "admin.orders": "orders.view",
    "admin.remove_role_mapping": "settings.methods",
    "admin.reset_administrator_two_factor": "admins.manage",
    "admin.reset_user_two_factor": "users.reset_2fa",
    "admin.security_settings": "settings.security",
    "admin.unlock_administrator": "admins.manage",
    "admin.unlock_user": "users.unlock",
    "admin.user_rights": "users.rights",
    "admin.users": "users.view",
    "api.create_order": "client.order",
    "api.deny_access": "admins.manage",
    "api.list_orders": "client.order",
    "client.finance": "client.finance",
    "client.orders": "client.order",
    "client.profile": "client.profile",
    "client.user_rights": "client.users",
    "client.users": "client.users",
    "fraud.cancel_code": "client.order",
    "fraud.catalog": "client.order",
    "fraud.check_code": "client.order",
    "fraud.order": "client.order",
    "fraud.protection_settings": "settings.fraud",
    "fraud.send_code": "client.order",
    "fraud.verify_phone": "client.order",
    "gdpr.clear_data": "clients.clear_data",
    "gdpr.clear_data_progress": "clients.clear_data",
    "gdpr.clear_data_step": "clients.clear_data",
    "gdpr.compliance": "settings.consent",
    "gdpr.consent_documents": "settings.consent",
    "gdpr.create_document": "settings.consent",
    "gdpr.install_module": "settings.modules",
    "gdpr.modules": "settings.modules",
    "gdpr.publish_version": "settings.consent",
    "gdpr.retention_settings": "settings.security",
    "gdpr.toggle_required": "settings.consent",
    "gdpr.transfer_basis": "settings.consent",
    "gdpr.uninstall_module": "settings.modules",
}


def test_each_granted_route_names_the_function_written_here(app):
    """A route that moves to another function, or to one everybody holds, shows here."""
    grantable = set(GRANTABLE["staff"]) | set(GRANTABLE["client"])
    named = {}
    for rule in app.url_map.iter_rules():
        code = getattr(app.view_functions[rule.endpoint], "required_function", None)
        if code in grantable or rule.endpoint in FUNCTION_OF_ENDPOINT:
            named[rule.endpoint] = code
    assert named == FUNCTION_OF_ENDPOINT


FINANCE_PAGES = ["/admin/finance/balance", "/admin/finance/payments", "/admin/finance/expenses",
                 "/admin/finance/reports"]


def test_support_is_kept_from_finance_and_finance_from_users_and_administrators(app, factories):
    """Through the seeded access groups, as most staff hold their functions."""
    groups = seed_groups()
    support, finance = staff_with(factories, login="support"), staff_with(factories, login="finance")
    db.session.execute(user_access_group.insert(), [
        {"user_id": support.id, "group_id": groups["Technical support"].id},
        {"user_id": finance.id, "group_id": groups["Finance"].id}])
    db.session.commit()
    support_web, finance_web = browser(app, "support"), browser(app, "finance")
    for url in FINANCE_PAGES:
        assert support_web.get(url).status_code == 403 and finance_web.get(url).status_code == 200, url
    for url in ("/admin/users", "/admin/administrators", "/admin/access-permissions"):
        assert finance_web.get(url).status_code == 403, url
    assert support_web.get("/admin/users").status_code == 200
    assert functions_of(support) == BASELINE["staff"] | groups["Technical support"].codes
