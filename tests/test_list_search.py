"""List search: prefixes in any case, `*` wildcards, the same rows by index or by scan, indexes used."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuthEvent, Client, User
from portal.models.base import folded
from portal.services import listing, logs, rights
from tests.access_helpers import browser, staff_with
from tests.statements import plan, recorded


def emails(page) -> list[str]:
    return [user.email for user, _client in page.rows]


@pytest.fixture
def people(factories):
    """Client users with mixed-case names and emails, several sharing the prefix "al"."""
    made = [factories.client_user(email=email, name=name) for email, name in [
        ("alice@example.com", "Alice Martin"), ("ALBERT@Example.org", "Albert Stone"),
        ("bob@example.com", "Bob Alder"), ("carol@shop.example", "Carol Alvarez"),
        ("alma@example.com", "Alma Smith")]]
    made[3].client.name = "Alpine Hosting"
    db.session.commit()
    return made


def test_a_search_finds_what_starts_with_it_in_any_case(app, people):
    assert set(emails(rights.list_client_users(search="AL"))) == {
        "alice@example.com", "ALBERT@Example.org", "alma@example.com", "carol@shop.example"}
    assert emails(rights.list_client_users(search="bob alder")) == ["bob@example.com"]
    assert emails(rights.list_client_users(search="alpine")) == ["carol@shop.example"]  # client name
    assert emails(rights.list_client_users(search="lice")) == []  # not the middle of a word
    assert emails(rights.list_client_users(search="*lice")) == ["alice@example.com"]
    assert set(emails(rights.list_client_users(search="*@example.com"))) == {
        "alice@example.com", "bob@example.com", "alma@example.com"}
    assert emails(rights.list_client_users(search="al%")) == []  # LIKE wildcards are literal
    assert emails(rights.list_client_users(search="a_ice")) == []


def test_the_index_and_the_scan_give_the_same_rows(app, people):
    fields = [listing.Field(User.email, select(User.id)), listing.Field(User.name, select(User.id))]

    def found(term, probe):
        with recorded(db.engine) as statements:
            page = listing.search(select(User), User.id, fields, term, probe=probe)
        scanned = any(" LIKE " in statement.upper() for statement in statements)
        return sorted(user.email for user in page.rows), scanned

    for term in ("al", "alb"):
        (by_index, scanned_few), (by_scan, scanned_many) = found(term, 2_000), found(term, 0)
        assert by_index == by_scan and not scanned_few and scanned_many, term
    assert found("al", 0)[0] == ["ALBERT@Example.org", "alice@example.com", "alma@example.com"]
    assert found("x", 0) == ([], False)  # no row starts with it: the index says so, nothing to scan


def test_pages_of_a_common_search_walk_every_match_once(app, factories):
    for n in range(7):
        factories.client_user(email=f"page{n}@example.com")
    factories.client_user(email="other@example.com")
    seen, cursor = [], {}
    while True:
        page = listing.search(select(User), User.id, [listing.Field(User.email, select(User.id))], "PAGE",
                              probe=3, size=3, **cursor)  # 7 matches: more than the probe, so a scan
        seen += [user.email for user in page.rows]
        if page.older is None:
            break
        cursor = {"before": page.older}
    assert sorted(seen) == [f"page{n}@example.com" for n in range(7)]


def test_the_auth_log_finds_an_account_by_its_login_email_or_ip_and_unknown_logins_as_typed(app, factories):
    known = factories.client_user(email="dana@example.com")
    db.session.add_all([
        AuthEvent(event="login", user_id=known.id, login="typo-dana@example.com", ip="203.0.113.7"),
        AuthEvent(event="login_failed", user_id=None, login="Mallory@evil.example", ip="198.51.100.9"),
    ])
    db.session.commit()

    def found(term):
        return {(row.event, row.ip) for row in logs.list_auth(search=term).rows}

    assert found("DANA") == {("login", "203.0.113.7")}  # the account's email, not what was typed
    assert found("typo") == set()  # what was typed counts only where no account was found
    assert found("mallory@") == {("login_failed", "198.51.100.9")}
    assert found("203.0.113.") == {("login", "203.0.113.7")}
    assert found("*evil.example") == {("login_failed", "198.51.100.9")}


def test_the_search_box_explains_prefixes_and_wildcards(app, factories, people):
    web = browser(app, staff_with(factories, "users.view").login)
    body = web.get("/admin/users?q=*@example.org").get_data(as_text=True)
    assert "ALBERT@Example.org" in body and "alice@example.com" not in body
    assert "starts with the text" in body and 'aria-describedby="q-hint"' in body


@pytest.mark.parametrize("column, index", [
    (User.email, "ix_user_folded_email"), (Client.name, "ix_client_folded_name")])
def test_a_prefix_is_one_range_of_the_folded_index(app, column, index):
    """The probe's range must be served by the index: on PostgreSQL only if both are in "C"."""
    query = select(column.class_.id).where(folded(column) >= "ab", folded(column) < "ab\U0010ffff")
    connection = db.session.connection()
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    assert index in plan(connection, str(compiled))


def test_no_index_covers_the_auth_logs_personal_columns():
    """Erasure nulls them: unindexed, PostgreSQL rewrites the rows in place (see AuthEvent)."""
    personal = {"login", "ip", "user_agent", "detail"}
    for index in AuthEvent.__table__.indexes:
        assert not {column.name for column in index.columns} & personal, index.name  # expressions too


def test_filter_choices_are_each_distinct_value_once_in_order(app):
    db.session.add_all(AuthEvent(event=event) for event in ["logout", "login", "login_failed", "login", "logout"])
    db.session.commit()
    assert logs.auth_events() == ["login", "login_failed", "logout"]
    assert listing.distinct_values(AuthEvent.login) == []  # all NULL: no choices


def test_only_a_term_that_can_start_an_ip_is_compared_with_ips(app):
    with recorded(db.engine) as by_name:
        logs.list_auth(search="mallory")
    with recorded(db.engine) as statements:
        logs.list_auth(search="10.0.")
    assert not any("auth_event.ip)" in statement for statement in by_name)
    assert any("auth_event.ip)" in statement for statement in statements)


def test_a_client_user_is_found_by_name_alone(app, people):
    people[4].client.name = "Harbour Ltd"  # neither the email nor the client starts with the name
    db.session.commit()
    assert emails(rights.list_client_users(search="alma s")) == ["alma@example.com"]
