"""Finance pages, clients, orders, logs and the dashboard: real data, search, keyset pages, widgets by function."""

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AuthEvent,
    Client,
    Expense,
    Order,
    Payment,
    ProductType,
    Tariff,
    User,
)
from portal.models.base import utcnow
from portal.services import demo, passwords, settings
from portal.services.auth_methods import STAFF_2FA_REQUIRED
from portal.services.events import log_audit
from portal.services.identifiers import find_account
from tests.access_helpers import browser, staff_with


def billing(factories, name, paid, spent, when=None):
    owner = factories.client_user(email=f"{name.lower()}@example.com", name=name)
    owner.client.name = name
    when = when or utcnow()
    db.session.add(Payment(client_id=owner.client_id, amount=Decimal(paid), reference=f"REF-{name}",
                           created_at=when))
    db.session.add(Expense(client_id=owner.client_id, amount=Decimal(spent), description=f"{name} hosting",
                           created_at=when))
    db.session.commit()
    return owner


def test_balance_per_client(app, factories):
    billing(factories, "Acme", "100.00", "30.50")
    billing(factories, "Zenith", "10.00", "25.00")
    web = browser(app, staff_with(factories, "finance.balance").login)
    body = web.get("/admin/finance/balance").get_data(as_text=True)
    assert re.search(r"Acme.*?100\.00.*?30\.50.*?69\.50", body, re.S)
    assert re.search(r"Zenith.*?10\.00.*?25\.00.*?-15\.00", body, re.S)
    fragment = web.get("/admin/finance/balance?q=zen", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Zenith" in fragment and "Acme" not in fragment and "<html" not in fragment
    # The page shows no emails, so its search must not match them either (it would spell them out).
    assert "No clients found." in web.get("/admin/finance/balance?q=*@example.com").get_data(as_text=True)


def test_payments_search_treats_wildcards_literally(app, factories):
    billing(factories, "Acme", "1.00", "1.00")
    billing(factories, "Bolt", "2.00", "2.00")
    web = browser(app, staff_with(factories, "finance.payments").login)
    assert "REF-Bolt" in web.get("/admin/finance/payments?q=bolt").get_data(as_text=True)
    body = web.get("/admin/finance/payments?q=%25").get_data(as_text=True)
    assert "No payments found." in body


def test_keyset_pages_walk_every_row_once(app, factories):
    owner = factories.client_user(email="many@example.com")
    db.session.add_all(Payment(client_id=owner.client_id, amount=Decimal(n), reference=f"P{n:03d}")
                       for n in range(1, 121))
    db.session.commit()
    web = browser(app, staff_with(factories, "finance.payments").login)
    seen, url = [], "/admin/finance/payments"
    while url:
        body = web.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        seen += re.findall(r"<td>(P\d{3})</td>", body)
        older = re.search(r'href="([^"]*before=\d+[^"]*)"', body)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert seen == [f"P{n:03d}" for n in range(120, 0, -1)]
    newer = re.search(r'href="([^"]*after=\d+[^"]*)"', web.get(
        "/admin/finance/payments?before=71").get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert re.findall(r"<td>(P\d{3})</td>", web.get(newer).get_data(as_text=True))[0] == "P120"


def test_reports_total_by_month(app, factories):
    now = utcnow().replace(day=15)
    billing(factories, "Acme", "100.00", "40.00", when=now)
    billing(factories, "Bolt", "50.00", "5.00", when=now)
    billing(factories, "Old", "7.00", "1.00", when=now - timedelta(days=62))
    web = browser(app, staff_with(factories, "finance.reports").login)
    body = re.sub(r">\s+<", "><", web.get("/admin/finance/reports").get_data(as_text=True))
    assert re.search(now.strftime("%Y-%m") + r"</td><td>150\.00</td><td>45\.00</td><td>105\.00</td>", body)
    assert "<td>7.00</td><td>1.00</td>" in body


def test_clients_list_card_and_orders(app, factories):
    owner = billing(factories, "Acme", "100.00", "30.00")
    demo._seed_catalog()
    tariff = db.session.query(Tariff).first()
    db.session.add(Order(client_id=owner.client_id, user_id=owner.id, tariff_id=tariff.id, price=tariff.price,
                         status="active"))
    db.session.commit()
    web = browser(app, staff_with(factories, "clients.view", "orders.view").login)
    assert "acme@example.com" in web.get("/admin/clients?q=acme").get_data(as_text=True)
    card = web.get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)
    assert "Acme" in card and tariff.name in card and 'id="client-actions"' in card
    assert "Latest payments" not in card  # no finance.payments function
    assert tariff.name in web.get("/admin/orders?q=active").get_data(as_text=True)
    assert web.get("/admin/clients/999999").status_code == 404


def test_staff_with_edit_clients_rename_a_client_and_the_change_is_audited(app, factories):
    owner = factories.client_user(email="owner@example.com")
    client_id, old_name = owner.client_id, owner.client.name
    viewer = browser(app, staff_with(factories, "clients.view", login="viewer").login)
    assert "/edit" not in viewer.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert viewer.get(f"/admin/clients/{client_id}/edit").status_code == 403
    editor = browser(app, staff_with(factories, "clients.view", "clients.edit", login="editor").login)
    assert f'href="/admin/clients/{client_id}/edit"' in editor.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    edit_url = f"/admin/clients/{client_id}/edit"
    for typed, error in (("   ", "This field is required."), ("x" * 201, "cannot be longer than 200 characters")):
        refused = editor.post_form(edit_url, {"name": typed})
        body = refused.get_data(as_text=True)
        assert refused.status_code == 422 and error in body and f'value="{typed}"' in body
    assert db.session.get(Client, client_id).name == old_name
    saved = editor.post_form(edit_url, {"name": "  Acme   Hosting Ltd "})
    assert saved.headers["Location"] == f"/admin/clients/{client_id}"
    assert db.session.get(Client, client_id).name == "Acme Hosting Ltd"
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "client_renamed")).scalar_one()
    assert (event.target_type, event.target_id, event.changes) == (
        "client", client_id, {"name": [old_name, "Acme Hosting Ltd"]})
    assert editor.get("/admin/clients/999999/edit").status_code == 404


def test_the_client_card_says_when_it_shows_only_the_newest_users(app, factories):
    owner = factories.client_user(email="owner@example.com")
    for n in range(20):
        factories.client_user(email=f"member{n}@example.com", client=owner.client)
    support = browser(app, staff_with(factories, "clients.view", "users.view", login="support").login)
    card = support.get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)
    assert "The 20 newest users are shown." in card and "owner@example.com</td>" not in card
    assert f'href="/admin/users?client={owner.client_id}"' in card
    factories.client_user(email="acme.other@example.com", name=owner.client.name)  # alike, not theirs
    listed = support.get(f"/admin/users?client={owner.client_id}").get_data(as_text=True)
    assert "member0@example.com" in listed and "acme.other@example.com" not in listed
    assert "acme.other@example.com" in support.get("/admin/users").get_data(as_text=True)
    for junk in ("999999", "abc", "-1", "99999999999999999999"):
        assert support.get(f"/admin/users?client={junk}").status_code == 404
    db.session.delete(db.session.get(User, owner.client.users[-1].id))
    db.session.commit()
    assert "newest users are shown" not in support.get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)


def test_a_cleared_client_keeps_its_placeholder_name(app, factories):
    owner = factories.client_user(email="owner@example.com")
    client = db.session.get(Client, owner.client_id)
    client.is_active, client.name = False, f"Erased client #{client.id}"
    db.session.commit()
    editor = browser(app, staff_with(factories, "clients.edit", login="editor").login)
    refused = editor.post_form(f"/admin/clients/{client.id}/edit", {"name": "Back again"})
    assert refused.status_code == 422
    assert "This client&#39;s data was cleared: its name cannot be changed." in refused.get_data(as_text=True)
    assert db.session.get(Client, client.id).name == f"Erased client #{client.id}"


def test_the_client_card_names_its_users_by_number_to_staff_without_view_users(app, factories):
    """As on their Rights page: "View clients" opens the client, not its users' personal data."""
    owner = factories.client_user(email="owner@example.com", name="Owner Person")
    member = factories.client_user(email="member@example.com", name="Member Person", client=owner.client)
    card_url = f"/admin/clients/{owner.client_id}"
    rights_only = browser(app, staff_with(factories, "clients.view", "users.rights", login="sales").login)
    card = rights_only.get(card_url).get_data(as_text=True)
    assert "member@example.com" not in card and "Member Person" not in card
    assert f"User #{member.id}" in card and f'href="/admin/users/{member.id}/rights"' in card
    support = browser(app, staff_with(factories, "clients.view", "users.view", login="support").login)
    card = support.get(card_url).get_data(as_text=True)
    assert "member@example.com" in card and "Member Person" in card


def test_client_finance_shows_only_its_own_client(app, factories):
    billing(factories, "Acme", "100.00", "30.00")
    billing(factories, "Rival", "999.00", "1.00")
    web = browser(app, "acme@example.com", "client password 1")
    body = web.get("/finance").get_data(as_text=True)
    assert "REF-Acme" in body and "70.00" in body and "REF-Rival" not in body and "999.00" not in body


def test_the_demo_lists_show_the_latest_money_and_orders_on_top(app):
    """Lists put the newest id first: the demo's history is written oldest first, across clients."""
    demo.seed_demo()
    for model in (Order, Payment, Expense):
        times = db.session.execute(select(model.created_at).order_by(model.id.desc())).scalars().all()
        assert len(times) > 12 and times == sorted(times, reverse=True), model.__name__


def test_finance_only_admin_sees_finance_not_administrators(app, factories):
    demo.seed_demo()
    passwords.set_password(find_account("finance"), "staff password 1")
    settings.update({STAFF_2FA_REQUIRED: False})  # the enrolment gate is tested elsewhere
    db.session.commit()
    web = browser(app, "finance")
    nav = web.get("/admin/").get_data(as_text=True).split("</nav>")[0]
    assert all(f">{label}</a>" in nav for label in ("Balance", "Payments", "Expenses", "Reports", "Clients"))
    assert ">Administrators</a>" not in nav and ">Audit log</a>" not in nav
    assert web.get("/admin/administrators").status_code == 403
    assert web.get("/admin/finance/reports").status_code == 200


def test_dashboard_widgets_follow_functions(app, factories, staff_web, staff_user):
    failed = AuthEvent(event="login_failed", login="ghost")
    old = AuthEvent(event="login", login="boss", created_at=utcnow() - timedelta(days=20))
    db.session.add_all([failed, old])
    log_audit("settings_changed", actor=staff_user, changes={"x": [1, 2]})
    db.session.commit()
    body = staff_web.get("/admin/").get_data(as_text=True)
    assert "<svg" in body and "<script" not in body.split("<main")[1]
    table = body.split('class="legend"')[1]
    assert re.search(r"Sign-ins</td>(<td>0</td>){13}<td>1</td>", table.replace("\n", ""))
    assert re.search(r"Failures</td>(<td>0</td>){13}<td>1</td>", table.replace("\n", ""))
    assert "Administrators signed in now" in body and "settings_changed" in body
    assert "Failed sign-ins in the last 24 hours: 1" in body
    bare = browser(app, staff_with(factories, login="bare").login).get("/admin/").get_data(as_text=True)
    assert "<svg" not in bare and "Administrators signed in now" not in bare and "settings_changed" not in bare


def test_audit_log_filters(app, factories, staff_user):
    target = factories.staff(login="somebody")
    log_audit("access_denied", target=target, actor=staff_user, changes={"access_denied": [False, True]})
    log_audit("group_created", actor=staff_user, changes={"name": [None, "X"]})
    log_audit("second_factor_reset", target=target, actor=staff_user, changes={"second_factors": [["sms", "totp"], []]})
    db.session.commit()
    web = browser(app, staff_with(factories, "logs.audit", login="auditor").login)
    body = web.get("/admin/audit-log?action=access_denied", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "access_denied" in body and "group_created" not in body and "<html" not in body
    assert "False → True" in body.replace("&#8594;", "→")
    body = web.get("/admin/audit-log?action=second_factor_reset").get_data(as_text=True).replace("&#8594;", "→")
    assert "second_factors</strong>: sms, totp → none" in body and "[" not in body.split('id="results"')[1]
    body = web.get("/admin/audit-log?action=group_created").get_data(as_text=True).replace("&#8594;", "→")
    assert "name</strong>: — → X" in body
    body = web.get(f"/admin/audit-log?target=user:{target.id}").get_data(as_text=True)
    assert "access_denied" in body.split('id="results"')[1] and "group_created" not in body.split('id="results"')[1]


def test_auth_log_search(app, factories):
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    db.session.add_all([AuthEvent(event="login_failed", login="mallory", ip="203.0.113.9", user_agent=agent),
                        AuthEvent(event="login", login="alice", ip="198.51.100.1")])
    db.session.commit()
    web = browser(app, staff_with(factories, "logs.auth", login="reader").login)
    body = web.get("/admin/auth-log?q=203.0.113", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "mallory" in body and "alice" not in body
    assert f'<td class="agent" title="{agent}">' in body  # cut short on screen, whole on hover
    body = web.get("/admin/auth-log?event=login").get_data(as_text=True).split('id="results"')[1]
    assert "alice" in body and "mallory" not in body


def test_each_finance_page_opens_only_to_its_own_function(app, factories):
    """Balance, Payments, Expenses and Reports are four functions: holding one opens one page."""
    pages = {"finance.balance": "/admin/finance/balance", "finance.payments": "/admin/finance/payments",
             "finance.expenses": "/admin/finance/expenses", "finance.reports": "/admin/finance/reports"}
    for code in pages:
        web = browser(app, staff_with(factories, code, login=code.replace(".", "-")).login)
        for other, url in pages.items():
            for headers in ({}, {"HX-Request": "true"}):
                assert web.get(url, headers=headers).status_code == (200 if other == code else 403), (code, url)


def order(owner, tariff_name, status, when=None):
    """An order of `owner`'s client for a tariff of its own (a product type per tariff)."""
    tariff = Tariff(name=tariff_name, price=Decimal("9.00"))
    db.session.add(ProductType(name=f"{tariff_name} type", tariffs=[tariff]))
    db.session.flush()
    db.session.add(Order(client_id=owner.client_id, user_id=owner.id, tariff_id=tariff.id, price=tariff.price,
                         status=status, created_at=when or utcnow()))
    db.session.commit()


def test_the_client_card_shows_its_own_users_money_and_orders_only(app, factories):
    rival = billing(factories, "Rival", "999.00", "1.00")  # the first client, the first ids
    acme = billing(factories, "Acme", "100.00", "30.00")
    factories.client_user(email="rival.member@example.com", client=rival.client)
    order(acme, "Acme Plan", "running")
    order(rival, "Rival Plan", "suspended")
    web = browser(app, staff_with(factories, "clients.view", "users.view", "finance.balance", "finance.payments",
                                  "finance.expenses", "orders.view").login)
    card = web.get(f"/admin/clients/{acme.client_id}").get_data(as_text=True)
    for own in ("acme@example.com", "REF-Acme", "Acme hosting", "Acme Plan", "running", "70.00"):
        assert own in card, own
    for other in ("rival@example.com", "rival.member@example.com", "REF-Rival", "Rival hosting", "Rival Plan",
                  "suspended", "999.00", "998.00"):
        assert other not in card, other


def test_a_client_sees_only_its_own_expenses(app, factories):
    billing(factories, "Acme", "100.00", "30.00")
    billing(factories, "Rival", "999.00", "1.00")
    body = browser(app, "acme@example.com", "client password 1").get("/finance").get_data(as_text=True)
    assert "Acme hosting" in body and "Rival hosting" not in body


def test_finance_lists_search_each_shown_column_and_match_no_other_clients_rows(app, factories):
    acme = billing(factories, "Acme", "100.00", "30.00")
    bolt = billing(factories, "Bolt", "2.00", "2.00")
    db.session.add(Expense(client_id=acme.client_id, amount=Decimal("5.00"), description="Domain renewal"))
    db.session.commit()
    order(acme, "Acme Plan", "running")
    order(bolt, "Bolt Plan", "suspended")
    web = browser(app, staff_with(factories, "finance.payments", "finance.expenses", "orders.view").login)

    def rows(url):
        return web.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)

    assert "REF-Bolt" in rows("/admin/finance/payments?q=ref-b") and "REF-Acme" not in rows(
        "/admin/finance/payments?q=ref-b")
    by_client = rows("/admin/finance/payments?q=acme")
    assert "REF-Acme" in by_client and "REF-Bolt" not in by_client
    by_description = rows("/admin/finance/expenses?q=bolt h")
    assert "Bolt hosting" in by_description and "Acme hosting" not in by_description
    by_client = rows("/admin/finance/expenses?q=acme")
    assert "Domain renewal" in by_client and "Bolt hosting" not in by_client
    for term, found, other in (("acme", "Acme Plan", "Bolt Plan"), ("bolt p", "Bolt Plan", "Acme Plan"),
                               ("susp", "Bolt Plan", "Acme Plan")):
        listed = rows(f"/admin/orders?q={term}")
        assert found in listed and other not in listed, term
    for url, shown, client_cell in (("/admin/finance/payments", "REF-{}", 1), ("/admin/finance/expenses", "{} hosting", 1),
                                    ("/admin/orders", "{} Plan", 2)):  # each row once, beside its own client
        cells = [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
                 for row in re.findall(r"<tr>(.*?)</tr>", rows(url), re.S)]
        listed = sorted((row[client_cell], cell) for row in cells for cell in row
                        if cell in (shown.format("Acme"), shown.format("Bolt")))
        assert listed == [("Acme", shown.format("Acme")), ("Bolt", shown.format("Bolt"))], url


def test_staff_find_an_order_by_the_number_the_client_sees(app, factories):
    owner = factories.client_user(email="quoting@example.com", name="Quoting")
    owner.client.name = "Quoting"
    for tariff_name in ("First Plan", "Second Plan", "Third Plan"):
        order(owner, tariff_name, "active")
    quoted = db.session.execute(select(Order).join(Tariff).where(Tariff.name == "Second Plan")).scalar_one()
    client_web = browser(app, owner.login, "client password 1")
    assert f"<td>#{quoted.id}</td><td>Second Plan type</td>" in client_web.get("/orders").get_data(as_text=True)
    web = browser(app, staff_with(factories, "orders.view", "clients.view").login)
    for term in (f"#{quoted.id}", str(quoted.id)):
        listed = web.get(f"/admin/orders?q={quote(term)}").get_data(as_text=True)
        assert f"<td>#{quoted.id}</td>" in listed and "Second Plan" in listed, term
        assert "First Plan" not in listed and "Third Plan" not in listed, term
    assert "First Plan" in web.get("/admin/orders?q=quot").get_data(as_text=True)  # names still found
    assert f"<td>#{quoted.id}</td>" in web.get(f"/admin/clients/{owner.client_id}").get_data(as_text=True)


def test_the_clients_list_finds_a_client_by_its_owners_email_not_by_another_users(app, factories):
    owner = factories.client_user(email="boss@example.com")
    owner.client.name = "Acme"
    factories.client_user(email="member@example.com", client=owner.client)
    db.session.commit()
    web = browser(app, staff_with(factories, "clients.view").login)
    assert "Acme" in web.get("/admin/clients?q=boss@").get_data(as_text=True)
    assert "No clients found." in web.get("/admin/clients?q=member@").get_data(as_text=True)


def test_a_client_whose_owner_is_gone_is_still_listed_with_its_balance(app, factories):
    owner = billing(factories, "Orphan", "12.00", "2.00")
    client_id = owner.client_id
    db.session.delete(db.session.get(User, owner.id))
    db.session.commit()
    web = browser(app, staff_with(factories, "clients.view", "finance.balance").login)
    assert "Orphan" in web.get("/admin/clients").get_data(as_text=True)
    assert re.search(r"Orphan.*?12\.00.*?2\.00.*?10\.00", web.get("/admin/finance/balance").get_data(as_text=True), re.S)
    assert "<dt>Owner</dt><dd>none</dd>" in web.get(f"/admin/clients/{client_id}").get_data(as_text=True)


def test_reports_cover_twelve_months_newest_first_and_count_orders(app, factories):
    now = utcnow().replace(day=15)
    acme = billing(factories, "Acme", "100.00", "40.00", when=now)
    order(acme, "Acme Plan", "running", when=now)
    order(acme, "Acme Extra", "running", when=now)
    order(acme, "Acme Old", "running", when=now - timedelta(days=92))  # a month with orders only
    billing(factories, "Gone", "77.00", "7.00", when=now - timedelta(days=430))  # over twelve months ago
    web = browser(app, staff_with(factories, "finance.reports").login)
    body = re.sub(r">\s+<", "><", web.get("/admin/finance/reports").get_data(as_text=True))
    this_month, orders_only = now.strftime("%Y-%m"), (now - timedelta(days=92)).strftime("%Y-%m")
    assert f"{this_month}</td><td>100.00</td><td>40.00</td><td>60.00</td><td>2</td>" in body
    assert f"{orders_only}</td><td>0.00</td><td>0.00</td><td>0.00</td><td>1</td>" in body
    assert body.index(this_month) < body.index(orders_only)
    assert "77.00" not in body and (now - timedelta(days=430)).strftime("%Y-%m") not in body


def test_a_client_saved_unchanged_is_not_audited_and_an_editor_without_view_stays_on_the_form(app, factories):
    owner = factories.client_user(email="owner@example.com")
    owner.client.name = "Acme"
    db.session.commit()
    edit_url = f"/admin/clients/{owner.client_id}/edit"
    editor = browser(app, staff_with(factories, "clients.edit", login="editor").login)
    assert editor.post_form(edit_url, {"name": " Acme "}).headers["Location"] == edit_url
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "client_renamed")).first() is None


def test_the_dashboard_shows_no_finance_card_to_staff_without_a_finance_function(app, factories):
    support = browser(app, staff_with(factories, "clients.view", login="helpdesk").login)
    assert "<h2>Finance</h2>" not in support.get("/admin/").get_data(as_text=True)
    finance = browser(app, staff_with(factories, "clients.view", "finance.balance", login="accounts").login)
    body = finance.get("/admin/").get_data(as_text=True)
    assert "<h2>Finance</h2>" in body and "Balance per client" in body
