"""Consent: documents on the registration form, the consent log, the gate, withdrawal."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, PendingRegistration, User
from portal.models.base import utcnow
from portal.models.compliance import ConsentRecord, PendingConsent
from portal.services import consent
from tests.gdpr_support import (
    accept_all_required,
    publish,
    register_with_consents,
    standard_documents,
)
from tests.outbox import link_in
from tests.signup import register
from tests.web import WebClient


def records_of(user_id: int) -> list[ConsentRecord]:
    return list(db.session.execute(
        select(ConsentRecord).where(ConsentRecord.user_id == user_id).order_by(ConsentRecord.id)
    ).scalars())


def test_register_form_shows_consents_and_refuses_without_required(web):
    docs = standard_documents()
    page = web.get("/register").get_data(as_text=True)
    assert "Privacy policy" in page and "Marketing messages" in page and "optional" in page
    privacy = docs["Privacy policy"][1]
    response = register(web, email="new@example.com", name="Newcomer", password="new password 12",
                        **{f"consent_{privacy.id}": "y"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You need to accept the User agreement to register." in body
    assert 'value="new@example.com"' in body  # what was typed is kept
    assert db.session.execute(select(PendingRegistration)).first() is None


def test_registration_logs_each_decision_with_time_and_ip(app):
    docs = standard_documents()
    web = WebClient(app.test_client())
    web.client.environ_base["REMOTE_ADDR"] = "198.51.100.5"
    decisions = {docs["Privacy policy"][1]: True, docs["User agreement"][1]: True,
                 docs["Marketing messages"][1]: False}
    assert register_with_consents(web, "new@example.com", "Newcomer", decisions).status_code == 302
    user = db.session.execute(select(User).where(User.email == "new@example.com")).scalar_one()
    log = {r.version.document.title: r for r in records_of(user.id)}
    assert {t: r.decision for t, r in log.items()} == {
        "Privacy policy": "accepted", "User agreement": "accepted", "Marketing messages": "declined"}
    assert {r.ip for r in log.values()} == {"198.51.100.5"}
    assert all(utcnow() - r.created_at < timedelta(minutes=5) for r in log.values())
    assert web.get("/home").status_code == 200  # nothing more to accept


def test_new_required_version_is_asked_at_login_until_accepted(web, factories):
    docs = standard_documents()
    user = factories.client_user(email="c@example.com", password="client password 1")
    accept_all_required(user)
    document, _v1 = docs["Privacy policy"]
    consent.publish_version(document, "Version two text.", utcnow() + timedelta(days=3))
    db.session.commit()
    web.login("c@example.com", "client password 1")
    assert web.get("/home").status_code == 200  # a future version is not asked for yet

    v2 = consent.publish_version(consent.documents()[0], "Now in force.", utcnow())
    db.session.commit()
    response = web.get("/home")
    assert response.status_code == 302 and response.headers["Location"].endswith("/consent/accept")
    assert web.get("/settings/general").status_code == 302
    htmx = web.get("/settings/general", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].endswith("/consent/accept")
    page = web.get("/consent/accept").get_data(as_text=True)
    assert "Now in force." in page and "Version two text." not in page
    assert web.post_form("/consent/accept", {"version": str(v2.id)}).status_code == 302
    assert web.get("/home").status_code == 200
    assert records_of(user.id)[-1].version_id == v2.id


def test_staff_are_not_gated(staff_web):
    publish("Privacy policy", True)
    assert staff_web.get("/admin/").status_code == 200


def test_optional_consent_given_and_withdrawn_in_general_settings(client_web, client_user):
    docs = standard_documents()
    accept_all_required(client_user)
    marketing = docs["Marketing messages"][0]
    page = client_web.get("/settings/general").get_data(as_text=True)
    assert "Consents" in page and "Give consent" in page
    url = f"/settings/consents/{marketing.id}"
    given = client_web.htmx("POST", url, page_url="/settings/general", data={"give": "1"})
    assert given.status_code == 200 and "Withdraw" in given.get_data(as_text=True)
    withdrawn = client_web.htmx("POST", url, page_url="/settings/general", data={"give": "0"})
    assert "Give consent" in withdrawn.get_data(as_text=True)
    changes = [r for r in records_of(client_user.id) if r.document_id == marketing.id]
    assert [(r.decision, r.ip) for r in changes] == [("accepted", "127.0.0.1"), ("withdrawn", "127.0.0.1")]


def test_a_document_opens_from_general_settings_in_a_tab_of_its_own(client_web, client_user):
    """The document's page has no menu: opened in place it would leave General settings behind."""
    marketing = standard_documents()["Marketing messages"][0]
    accept_all_required(client_user)
    page = client_web.get("/settings/general").get_data(as_text=True)
    assert f'href="/consent/documents/{marketing.id}" target="_blank" rel="noopener"' in page


def test_required_consent_cannot_be_withdrawn_there(client_web, client_user):
    docs = standard_documents()
    accept_all_required(client_user)
    privacy = docs["Privacy policy"][0]
    response = client_web.htmx("POST", f"/settings/consents/{privacy.id}",
                               page_url="/settings/general", data={"give": "0"})
    assert "required to use the portal" in response.get_data(as_text=True)
    assert all(r.decision == "accepted" for r in records_of(client_user.id))


def test_staff_add_document_and_publish_version(staff_web):
    response = staff_web.post_form("/admin/consent/documents",
                                   {"title": "Cookie policy", "required": "y"}, page_url="/admin/consent")
    assert response.status_code == 302
    document = next(d for d in consent.documents() if d.title == "Cookie policy")
    assert document.required
    refused = staff_web.post_form(f"/admin/consent/documents/{document.id}/versions",
                                  {f"doc{document.id}-text": ""}, page_url="/admin/consent")
    assert refused.status_code == 422 and "This field is required." in refused.get_data(as_text=True)
    today = utcnow().date().isoformat()
    published = staff_web.post_form(f"/admin/consent/documents/{document.id}/versions",
                                    {f"doc{document.id}-text": "We use cookies.",
                                     f"doc{document.id}-effective": today}, page_url="/admin/consent")
    assert published.status_code == 302
    assert consent.current_version(consent.documents()[0]).text == "We use cookies."
    actions = set(db.session.execute(select(AuditEvent.action)).scalars())
    assert {"consent_document_created", "consent_version_published"} <= actions
    page = staff_web.get("/admin/consent").get_data(as_text=True)
    assert "in force" in page


def test_each_consent_form_comes_back_to_its_own_card(staff_web):
    """The page is long: an error under "Add a document" or under a version's text, or the change
    just made, shows where the form was instead of at the top of the page."""
    publish("Privacy policy", True)
    refused = staff_web.post_form("/admin/consent/documents", {"title": ""}, page_url="/admin/consent")
    assert refused.status_code == 422
    for page in (staff_web.get("/admin/consent").get_data(as_text=True), refused.get_data(as_text=True)):
        cards = re.findall(r'<section class="card" id="([^"]+)">(.*?)</section>', page, re.S)
        assert {"document-1", "add-document"} <= {card for card, _ in cards}
        for card, body in cards:
            assert all(action.endswith(f"#{card}") for action in re.findall(r'<form method="post" action="([^"]+)"', body))


def test_a_version_cannot_take_effect_in_the_past(staff_web):
    document, v1 = publish("Privacy policy", True)
    url, field = f"/admin/consent/documents/{document.id}/versions", f"doc{document.id}-effective"
    for day in ["2020-01-01", (utcnow().date() - timedelta(days=1)).isoformat()]:
        refused = staff_web.post_form(url, {f"doc{document.id}-text": "Backdated text.", field: day},
                                      page_url="/admin/consent")
        body = refused.get_data(as_text=True)
        assert refused.status_code == 422
        assert f'<p class="error" id="{field}-error">The effective date cannot be in the past' in body
        assert f'value="{day}"' in body and "Backdated text." in body  # what was typed is kept
    db.session.expire_all()
    assert [v.number for v in consent.documents()[0].versions] == [1]
    assert consent.current_version(consent.documents()[0]).id == v1.id


def test_a_version_cannot_take_effect_before_the_one_in_force(app):
    document, v1 = publish("Privacy policy", True)
    with pytest.raises(consent.ConsentError, match="before that of version 1") as refused:
        consent.publish_version(document, "Earlier.", v1.effective_at - timedelta(seconds=1))
    assert refused.value.field == "effective"


def test_client_cannot_reach_consent_admin(client_web):
    assert client_web.get("/admin/consent").status_code == 403


def test_seed_demo_adds_the_documents_once_and_demo_users_are_not_gated(runner, web):
    first = runner.invoke(args=["seed-demo"])
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert [(d.title, d.required, len(d.versions)) for d in consent.documents()] == [
        ("Privacy policy", True, 1), ("User agreement", True, 1), ("Marketing messages", False, 1)]
    password = next(line.split()[3] for line in first.output.splitlines() if "owner@example.com" in line)
    web.login("owner@example.com", password)
    assert web.get("/home").status_code == 200


def test_the_gate_records_only_the_versions_the_user_was_shown(web, factories):
    """A version that took effect after the page was shown, or one left out of the form, is not
    accepted on the user's behalf: the consent log holds only what they saw and accepted."""
    docs = standard_documents()
    user = factories.client_user(email="c@example.com", password="client password 1")
    accept_all_required(user)
    privacy, agreement = docs["Privacy policy"][0], docs["User agreement"][0]
    shown = consent.publish_version(privacy, "Version two.", utcnow())
    db.session.commit()
    web.login("c@example.com", "client password 1")
    assert "Version two." in web.get("/consent/accept").get_data(as_text=True)
    consent.publish_version(agreement, "Agreement two, published meanwhile.", utcnow())
    db.session.commit()
    before = len(records_of(user.id))
    assert web.post_form("/consent/accept", {"version": str(shown.id)}).status_code == 302
    assert [r.version_id for r in records_of(user.id)[before:]] == [shown.id]
    assert web.get("/home").headers["Location"].endswith("/consent/accept")  # still to accept
    assert web.post_form("/consent/accept", {}).status_code == 302  # nothing ticked, nothing shown
    assert len(records_of(user.id)) == before + 1


def test_the_log_keeps_when_and_where_the_form_was_filled_not_the_link_opened(app):
    """The decisions were made on the registration form: its time and address go to the consent
    log, even when the emailed link is opened later from another browser."""
    docs = standard_documents()
    form = WebClient(app.test_client())
    form.client.environ_base["REMOTE_ADDR"] = "198.51.100.5"
    signed_up = register(form, email="later@example.com", name="Later", password="new password 12",
                         **{f"consent_{v.id}": "y" for _d, v in docs.values()})
    assert "Check your email" in signed_up.get_data(as_text=True)
    filled_at = utcnow() - timedelta(hours=2)  # the link is opened two hours after the form
    for row in db.session.execute(select(PendingConsent)).scalars():
        row.created_at = filled_at
    db.session.commit()
    phone = WebClient(app.test_client())
    phone.client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    path = link_in("later@example.com", "/register/confirm/")
    assert phone.post_form(path, {"password": "new password 12"}).headers["Location"] == "/home"
    user = db.session.execute(select(User).where(User.email == "later@example.com")).scalar_one()
    log = records_of(user.id)
    assert len(log) == 3 and {r.ip for r in log} == {"198.51.100.5"}
    assert all(abs(r.created_at - filled_at) < timedelta(seconds=1) for r in log)


def test_making_a_document_required_is_audited(staff_web, staff_user):
    document, _version = publish("Newsletter", False)
    response = staff_web.post_form(f"/admin/consent/documents/{document.id}/required", {},
                                   page_url="/admin/consent/documents")
    assert response.status_code in (200, 302)
    audit = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "consent_document_changed")).scalar_one()
    assert audit.actor_id == staff_user.id and audit.changes == {"required": [False, True]}


def test_a_sign_up_logs_only_the_decisions_of_its_own_form(app):
    """Another sign-up waiting for its link, with other choices, adds nothing to this account's log."""
    docs = standard_documents()
    required = {docs["Privacy policy"][1]: True, docs["User agreement"][1]: True}
    marketing = docs["Marketing messages"][1]
    other = WebClient(app.test_client())
    assert "Check your email" in register(
        other, email="other@example.com", name="Other", password="new password 12",
        **{f"consent_{v.id}": "y" for v in [*required, marketing]}).get_data(as_text=True)
    web = WebClient(app.test_client())
    assert register_with_consents(web, "mine@example.com", "Mine", {**required, marketing: False}).status_code == 302
    user = db.session.execute(select(User).where(User.email == "mine@example.com")).scalar_one()
    assert sorted((r.version.document.title, r.decision) for r in records_of(user.id)) == [
        ("Marketing messages", "declined"), ("Privacy policy", "accepted"), ("User agreement", "accepted")]


def test_a_document_made_required_after_it_was_declined_is_asked_for(web, factories):
    """A declined version is not an accepted one, whatever the document has become since."""
    newsletter, version = publish("Newsletter", False)
    user = factories.client_user(email="c@example.com", password="client password 1")
    consent.record(user, version, consent.DECLINED)
    consent.set_required(newsletter, True)
    db.session.commit()
    web.login("c@example.com", "client password 1")
    assert web.get("/home").headers["Location"].endswith("/consent/accept")


def test_a_second_document_with_the_same_title_is_refused(staff_web):
    """Titles name documents in the consent log: spaces around one do not make it another."""
    publish("Privacy policy", True)
    refused = staff_web.post_form("/admin/consent/documents", {"title": "  Privacy policy ", "required": "y"},
                                  page_url="/admin/consent")
    assert refused.status_code == 422
    assert "A document with this title exists already." in refused.get_data(as_text=True)
    assert [d.title for d in consent.documents()] == ["Privacy policy"]


def test_required_is_switched_both_ways_and_only_with_the_pages_token(staff_web):
    document, _version = publish("Newsletter", False)
    url = f"/admin/consent/documents/{document.id}/required"
    forged = staff_web.client.post(url)  # signed in, but no CSRF token
    assert forged.status_code == 400
    for expected in (True, False):
        assert staff_web.post_form(url, {}, page_url="/admin/consent").status_code == 302
        db.session.expire_all()
        assert consent.documents()[0].required is expected


def test_a_consent_click_without_a_choice_gives_nothing(client_web, client_user):
    """Consent is given only by the Give consent button, never by a request that names no choice."""
    docs = standard_documents()
    accept_all_required(client_user)
    marketing = docs["Marketing messages"][0]
    client_web.htmx("POST", f"/settings/consents/{marketing.id}", page_url="/settings/general", data={})
    assert [r.decision for r in records_of(client_user.id) if r.document_id == marketing.id] == ["withdrawn"]


def test_anyone_reads_the_version_in_force_and_nothing_before_the_first(app):
    document, _version = publish("Privacy policy", True, text="We keep little.")
    draft = consent.create_document("Cookie policy", False)
    db.session.commit()
    reader = app.test_client()
    page = reader.get(f"/consent/documents/{document.id}")
    assert page.status_code == 200 and "We keep little." in page.get_data(as_text=True)
    assert reader.get(f"/consent/documents/{draft.id}").status_code == 404
