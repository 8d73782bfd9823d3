"""The compliance page: five live answers, each pointing at what fixes it."""

from datetime import timedelta

from portal.extensions import db
from portal.models import AuthEvent, SecondFactor
from portal.models.base import utcnow
from portal.models.compliance import PurgeRun
from portal.services import compliance, consent, retention, settings
from tests.gdpr_support import publish, standard_documents
from tests.oauth_helpers import switch_on
from tests.statements import recorded
from tests.web import WebClient


def statuses() -> list[str]:
    return [answer.status for answer in compliance.answers()]


def test_fresh_portal_answers_no(staff_web):
    page = staff_web.get("/admin/compliance").get_data(as_text=True)
    assert "Is consent collected and documented?" in page
    assert "No required document" in page and "rows are kept forever" in page
    assert statuses()[0:2] == ["no", "no"]


def test_answers_turn_yes_when_the_checks_hold(staff_web, factories):
    standard_documents()
    factories.client_user(email="late@example.com")  # registered before the documents
    retention.set_period(30)
    db.session.add(AuthEvent(event="login", created_at=utcnow() - timedelta(days=40)))
    db.session.commit()
    answer = compliance.consent_answer()
    assert answer.status == "yes" and "1 active user will be asked" in answer.summary
    assert "has never run" in compliance.retention_answer().summary
    retention.purge_auth_log()
    assert compliance.retention_answer().status == "yes"
    page = staff_web.get("/admin/compliance").get_data(as_text=True)
    assert "the purge last ran" in page and "(1 row deleted)" in page
    retention_card = page[page.index("the purge last ran"):]
    assert "Fix this" not in retention_card[:retention_card.index("</section>")]  # it holds: nothing to fix


def test_staff_2fa_answer_follows_the_switch_and_the_methods(staff_web, factories):
    factories.staff(login="second")
    answer = compliance.staff_2fa_answer()  # the factories switch the requirement off
    assert answer.status == "no" and "switched off; 2 staff members have no second factor" in answer.summary
    settings.update({"security.staff_2fa_required": True})
    db.session.commit()
    answer = compliance.staff_2fa_answer()
    assert answer.status == "yes" and "2 staff members have not enrolled yet" in answer.summary
    settings.update({"methods.totp": False})  # SMS codes stay on, but staff have no phone for them
    db.session.commit()
    answer = compliance.staff_2fa_answer()
    assert answer.status == "no" and "nobody can enrol" in answer.summary
    assert answer.fix_endpoint == "admin.auth_methods_default"


def test_staff_without_an_active_second_factor_are_counted_in_one_query(staff_web, factories):
    settings.update({"methods.sms_2fa": False})
    enrolled, pending, by_sms = (factories.staff(login=login) for login in ("enrolled", "pending", "bysms"))
    db.session.add_all([SecondFactor(user_id=enrolled.id, kind="totp", confirmed_at=utcnow()),
                        SecondFactor(user_id=pending.id, kind="totp"),  # never confirmed
                        SecondFactor(user_id=by_sms.id, kind="sms", confirmed_at=utcnow())])  # switched off
    db.session.commit()
    compliance.staff_2fa_answer()  # settings are read once, then kept for the context
    with recorded(db.engine) as statements:
        answer = compliance.staff_2fa_answer()  # boss, pending and bysms lack one
    few = len(statements)
    for n in range(10):
        factories.staff(login=f"more{n}")
    with recorded(db.engine) as statements:
        more = compliance.staff_2fa_answer()
    assert "3 staff members have no second factor" in answer.summary
    assert "13 staff members have no second factor" in more.summary and len(statements) == few


def test_transfer_basis_recorded_per_enabled_provider(make_app, factories):
    app = make_app(GOOGLE_CLIENT_ID="google-id", GOOGLE_CLIENT_SECRET="google-secret",
                   SMS_BACKEND="vonage", VONAGE_API_KEY="key", VONAGE_API_SECRET="secret")
    switch_on()  # Google and Keycloak; Keycloak stays off, it is not configured
    factories.staff(login="boss", password="staff password 1", full_access=True)
    web = WebClient(app.test_client())
    web.login("boss", "staff password 1")
    page = web.get("/admin/compliance").get_data(as_text=True)
    assert "No transfer basis recorded for Google, Vonage." in page
    for key in ("google", "vonage"):
        response = web.post_form(f"/admin/compliance/transfer-basis/{key}",
                                 {f"{key}-basis": "Standard contractual clauses"},
                                 page_url="/admin/compliance")
        assert response.status_code == 302
    assert settings.get("compliance.transfer_basis.google") == "Standard contractual clauses"
    page = web.get("/admin/compliance").get_data(as_text=True)
    assert "Providers on: Google, Vonage; every basis is recorded." in page
    refused = web.post_form("/admin/compliance/transfer-basis/google", {"google-basis": "made up"},
                            page_url="/admin/compliance")
    assert refused.status_code == 422


def test_vonage_is_declared_while_it_looks_numbers_up_even_with_texts_on_the_console(make_app, factories):
    """Line-type lookups send the number to Vonage whatever backend sends the texts."""
    app = make_app(SMS_BACKEND="console", VONAGE_API_KEY="key", VONAGE_API_SECRET="secret")
    factories.staff(login="boss", password="staff password 1", full_access=True)
    web = WebClient(app.test_client())
    web.login("boss", "staff password 1")
    assert "No third-party provider is on" in web.get("/admin/compliance").get_data(as_text=True)
    settings.update({"fraud.mobile_only": True, "fraud.line_type_lookup": True})
    db.session.commit()
    assert "No transfer basis recorded for Vonage." in web.get("/admin/compliance").get_data(as_text=True)


def test_client_cannot_see_the_compliance_page(client_web):
    assert client_web.get("/admin/compliance").status_code == 403


def test_the_consent_count_reads_each_users_latest_decision_as_the_gate_does(client_web, client_user, factories):
    """Accepted, then withdrawn, then the document made required: the gate asks again, and so
    does the count (it once counted any acceptance ever given)."""
    factories.client_user(email="never@example.com")
    document, version = publish("Terms", False)
    consent.record(client_user, version, consent.ACCEPTED)
    db.session.commit()
    consent.record(client_user, version, consent.WITHDRAWN)
    consent.set_required(document, True)
    db.session.commit()
    assert client_web.get("/home").headers["Location"].startswith("/consent/accept")
    assert "2 active users will be asked" in compliance.consent_answer().summary
    consent.record(client_user, version, consent.ACCEPTED)
    db.session.commit()
    assert "1 active user will be asked" in compliance.consent_answer().summary


def test_a_purge_that_stopped_running_turns_the_answer_to_no(staff_web):
    """A daily timer that missed more than two days shows: a period set once is not enough."""
    retention.set_period(30)
    db.session.commit()
    retention.purge_auth_log()
    assert compliance.retention_answer().status == "yes"
    run = retention.last_run()
    run.finished_at = utcnow() - timedelta(days=2, hours=-1)  # within two days: still fine
    db.session.commit()
    assert compliance.retention_answer().status == "yes"
    run.finished_at = utcnow() - timedelta(days=2, hours=1)  # the README: more than two days old
    db.session.commit()
    answer = compliance.retention_answer()
    assert answer.status == "no" and "is its timer still on?" in answer.summary
    assert db.session.get(PurgeRun, run.id) is not None


def test_optional_documents_alone_do_not_count_as_consent_collected(staff_web):
    publish("Newsletter", False)
    answer = compliance.consent_answer()
    assert answer.status == "no" and "No required document" in answer.summary


def test_recaptcha_on_needs_its_transfer_basis(make_app, factories):
    app = make_app(RECAPTCHA_PUBLIC_KEY="public", RECAPTCHA_PRIVATE_KEY="private")
    factories.staff(login="boss", password="staff password 1", full_access=True)
    settings.update({"captcha.mode": "recaptcha"})
    db.session.commit()
    web = WebClient(app.test_client())
    web.login("boss", "staff password 1")
    assert "No transfer basis recorded for reCAPTCHA." in web.get("/admin/compliance").get_data(as_text=True)


def test_vonage_lookups_count_only_while_mobile_only_is_on(make_app, factories):
    """The line-type lookup runs for the mobile-only check: switched on alone, nothing goes to Vonage."""
    app = make_app(SMS_BACKEND="console", VONAGE_API_KEY="key", VONAGE_API_SECRET="secret")
    factories.staff(login="boss", password="staff password 1", full_access=True)
    settings.update({"fraud.mobile_only": False, "fraud.line_type_lookup": True})
    db.session.commit()
    web = WebClient(app.test_client())
    web.login("boss", "staff password 1")
    assert "No third-party provider is on" in web.get("/admin/compliance").get_data(as_text=True)


def test_denied_staff_and_closed_accounts_are_not_counted(staff_web, factories):
    """The answers count the people who can still sign in: not a denied administrator, not a
    closed client account."""
    denied = factories.staff(login="denied")
    denied.access_denied = True
    standard_documents()
    factories.client_user(email="open@example.com")
    closed = factories.client_user(email="closed@example.com")
    closed.is_active_account = False
    db.session.commit()
    assert "switched off; 1 staff members have no second factor" in compliance.staff_2fa_answer().summary
    assert "1 active user will be asked" in compliance.consent_answer().summary


def test_the_retention_answer_reads_the_newest_purge(staff_web):
    retention.set_period(30)
    db.session.commit()
    retention.purge_auth_log()
    retention.last_run().finished_at = utcnow() - timedelta(days=5)
    db.session.commit()
    assert compliance.retention_answer().status == "no"
    retention.purge_auth_log()  # the timer is back
    assert compliance.retention_answer().status == "yes"


def test_the_consent_answer_counts_each_required_document(staff_web, factories):
    """A user who accepted the privacy policy but not the user agreement is still asked; another
    user's later decision on a document leaves this user's acceptance as it was. The summary counts
    the documents in force (optional ones too) and every decision logged."""
    docs = standard_documents()
    both, one = (factories.client_user(email=email) for email in ("both@example.com", "one@example.com"))
    for user, titles in ((both, ["Privacy policy", "User agreement"]), (one, ["Privacy policy"])):
        for title in titles:
            consent.record(user, docs[title][1], consent.ACCEPTED)
    consent.record(one, docs["Marketing messages"][1], consent.DECLINED)
    db.session.commit()
    answer = compliance.consent_answer()
    assert answer.status == "yes" and answer.summary == (
        "3 documents in force, 4 decisions in the consent log; 1 active user will be asked for the "
        "current versions at their next login.")


def test_a_period_without_a_purge_ever_run_is_no(staff_web):
    retention.set_period(30)
    db.session.commit()
    answer = compliance.retention_answer()
    assert answer.status == "no" and "`purge-auth-log` has never run" in answer.summary
    page = staff_web.get("/admin/compliance").get_data(as_text=True)
    retention_card = page[page.index("Is a retention period set"):]
    assert "Fix this" in retention_card[:retention_card.index("</section>")]


def test_vonage_lookups_without_its_keys_send_nothing(staff_web):
    """The lookup needs Vonage's key and secret: without them no number leaves the portal."""
    settings.update({"fraud.mobile_only": True, "fraud.line_type_lookup": True})
    db.session.commit()
    assert "No third-party provider is on" in staff_web.get("/admin/compliance").get_data(as_text=True)


def test_the_page_asks_all_five_questions_and_lists_the_documents_in_force(staff_web):
    standard_documents()
    page = staff_web.get("/admin/compliance").get_data(as_text=True)
    for answer in compliance.answers():
        assert answer.question in page
    assert "Has every Clear data run to its end?" in page
    today = f"{utcnow():%Y-%m-%d}"
    assert f"<li>Privacy policy version 1 (required), in force since {today}</li>" in page
    assert f"<li>Marketing messages version 1 (optional), in force since {today}</li>" in page
