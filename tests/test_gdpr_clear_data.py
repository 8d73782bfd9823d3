"""Clients → client → Clear data: the module switch, preview, confirmation, erasure, receipt."""

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import render_template
from flask_login import login_user
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AuthEvent,
    Client,
    OutboxMessage,
    PasswordHistory,
    Payment,
    PendingEmailChange,
    PendingNotice,
    PhoneVerification,
    User,
)
from portal.models.base import utcnow
from portal.models.compliance import ErasureJob
from portal.services import api_tokens, background, compliance, consent, gdpr, personal_data
from portal.services.events import log_audit
from portal.services.mail import send_mail
from portal.services.notices import send_notice
from portal.services.sms import send_sms
from tests.access_helpers import PASSWORD as STAFF_PASSWORD
from tests.access_helpers import staff_with
from tests.fraud_support import MOBILE_GB, MOBILE_GB_2, PAGE, check, protect, send
from tests.gdpr_support import (
    accept_all_required,
    change_email,
    install_clear_data,
    register_with_consents,
    request_email_change,
    standard_documents,
)
from tests.methods_helpers import enrol_totp
from tests.oauth_helpers import oauth_login, sub_name, switch_on
from tests.outbox import code_in
from tests.statements import recorded
from tests.web import WebClient

STAFF_EMAIL = "boss@staff.example.com"  # staff_web's, told of its sign-in

CLIENT_IP, COLLEAGUE_IP = "203.0.113.77", "198.51.100.42"
SECRETS = ["zelda", "quixote", "yorick", "vandersloot", "447700900123", "447400123456",
           CLIENT_IP, COLLEAGUE_IP, "zeldabrowser"]


def browser(app, ip: str) -> WebClient:
    web = WebClient(app.test_client())
    web.client.environ_base.update({"REMOTE_ADDR": ip, "HTTP_USER_AGENT": "ZeldaBrowser/2.0"})
    return web


@pytest.fixture
def zelda(app, factories):
    """A client registered through the form (consents, registration log), with a colleague,
    phones, sessions from their own addresses, messages, an audit trail and payments."""
    docs = standard_documents()
    web = browser(app, CLIENT_IP)
    register_with_consents(web, "zelda@example.com", "Zelda Quixote",
                           {version: True for _document, version in docs.values()})
    owner = db.session.execute(select(User).where(User.email == "zelda@example.com")).scalar_one()
    colleague = factories.client_user(email="yorick@example.org", name="Yorick Vandersloot",
                                      client=owner.client, phone="+447700900123")
    accept_all_required(colleague)
    db.session.add_all([Payment(client_id=owner.client_id, amount=Decimal("120.50"), reference="INV-1"),
                        Payment(client_id=owner.client_id, amount=Decimal("30.00"), reference="INV-2")])
    log_audit("user_changed", target=colleague, actor=owner,
              changes={"email": ["yorick.old@example.org", "yorick@example.org"]})
    db.session.commit()
    send_mail("+447400123456", "", "code")  # an outbox row addressed by phone
    remembered = browser(app, COLLEAGUE_IP)
    remembered.login("yorick@example.org", "client password 1", remember=True)
    protect()  # the owner verifies a phone number: a fraud-protection record with an IP
    send(web, "+447400123456")
    check(web, code_in("+447400123456"))
    assert db.session.get(User, owner.id).phone == "+447400123456"
    browser(app, COLLEAGUE_IP).post_form("/login", {"login": "yorick@example.org", "password": "wrong"})
    enrol_totp(web, "new password 12")  # a TOTP secret and recovery codes
    web.post_form("/settings/general", {"name": "Zelda Quixote", "email": "zelda@quixote.example",
                                        "email_password": "new password 12"})
    assert db.session.execute(select(PendingEmailChange)).first() is not None  # a new address waits
    _row, token = api_tokens.create_token(db.session.get(User, owner.id), "zelda's script", 30,
                                          ["self.account"], "new password 12")
    db.session.commit()
    fresh = WebClient(app.test_client())
    assert fresh.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    return {"client_id": owner.client_id, "web": web, "remembered": remembered, "token": token,
            "user_ids": [owner.id, colleague.id]}


def dump_everything() -> str:
    db.session.commit()
    text = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            text += [repr(tuple(row)) for row in conn.execute(table.select())]
    return "\n".join(text).lower()


def clear(staff_web, client_id: int) -> ErasureJob:
    url = f"/admin/clients/{client_id}/clear-data"
    name = db.session.get(Client, client_id).name
    response = staff_web.post_form(url, {"current_password": "staff password 1", "client_name": name})
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    progress = response.headers["Location"]
    job_id = int(progress.rsplit("/", 1)[1])
    for _ in range(20):
        fragment = staff_web.htmx("POST", f"{progress}/step", page_url=progress)
        assert fragment.status_code == 200
        if "Done" in fragment.get_data(as_text=True):
            break
    return db.session.get(ErasureJob, job_id)


def test_clear_data_exists_only_while_the_module_is_installed(staff_web, factories):
    client_id = factories.client_user().client_id
    assert staff_web.get(f"/admin/clients/{client_id}/clear-data").status_code == 404
    page = "/admin/integration/modules"
    assert "GDPR client data cleaning" in staff_web.get(page).get_data(as_text=True)
    installed = staff_web.htmx("POST", "/admin/integration/modules/gdpr_clear_data/install", page_url=page)
    assert "installed" in installed.get_data(as_text=True) and "Uninstall" in installed.get_data(as_text=True)
    assert staff_web.get(f"/admin/clients/{client_id}/clear-data").status_code == 200
    staff_web.htmx("POST", "/admin/integration/modules/gdpr_clear_data/uninstall", page_url=page)
    assert staff_web.get(f"/admin/clients/{client_id}/clear-data").status_code == 404


def test_clear_data_needs_its_function(web, factories):
    install_clear_data()
    client_id = factories.client_user().client_id
    factories.staff(login="support", password="staff password 1")
    web.login("support", "staff password 1")
    assert web.get(f"/admin/clients/{client_id}/clear-data").status_code == 403


def test_preview_shows_what_is_erased_and_what_is_kept(staff_web, zelda):
    install_clear_data()
    page = staff_web.get(f"/admin/clients/{zelda['client_id']}/clear-data").get_data(as_text=True)
    for text in ["Zelda Quixote", "yorick@example.org", "+447700900123", "auth_event",
                 "unique random placeholders", "Art. 17(3)(b)", "2 payments totalling 150.50",
                 "Current password", "Client name", "Clear data"]:
        assert text in page, text


def test_preview_shows_whose_data_only_to_staff_who_may_view_users(app, factories):
    install_clear_data()
    owner = factories.client_user(email="hidden@example.com", name="Hidden Ltd")
    factories.client_user(email="hidden2@example.com", name="Hilda Hidden", client=owner.client,
                          phone="+447700900999")
    web = WebClient(app.test_client())
    web.login(staff_with(factories, "clients.clear_data", login="eraser").login, STAFF_PASSWORD)
    page = web.get(f"/admin/clients/{owner.client_id}/clear-data").get_data(as_text=True)
    assert "2 users. Their names, emails and phone numbers are shown to staff who hold" in page
    for personal in ("hidden@example.com", "hidden2@example.com", "Hilda Hidden", "+447700900999"):
        assert personal not in page, personal
    web = WebClient(app.test_client())
    web.login(staff_with(factories, "clients.clear_data", "users.view", login="viewer").login, STAFF_PASSWORD)
    page = web.get(f"/admin/clients/{owner.client_id}/clear-data").get_data(as_text=True)
    assert all(personal in page for personal in ("hidden2@example.com", "Hilda Hidden", "+447700900999"))


def test_counts_of_one_are_in_the_singular(staff_web, factories):
    install_clear_data()
    client_id = factories.client_user(email="solo@example.com").client_id
    db.session.add(Payment(client_id=client_id, amount=Decimal("9.99"), reference="INV-9"))
    db.session.commit()
    page = staff_web.get(f"/admin/clients/{client_id}/clear-data").get_data(as_text=True)
    assert "The client and its 1 user are deactivated" in page and "Kept: 1 payment totalling 9.99" in page
    job = clear(staff_web, client_id)
    done = staff_web.get(f"/admin/clients/{client_id}/clear-data/jobs/{job.id}").get_data(as_text=True)
    assert "The client and 1 user are anonymized." in done


def test_confirmation_needs_password_and_exact_name(staff_web, zelda):
    install_clear_data()
    url = f"/admin/clients/{zelda['client_id']}/clear-data"
    wrong_password = staff_web.post_form(url, {"current_password": "nope nope", "client_name": "Zelda Quixote"})
    assert wrong_password.status_code == 422 and "The current password is not correct." in wrong_password.get_data(as_text=True)
    wrong_name = staff_web.post_form(url, {"current_password": "staff password 1", "client_name": "Zelda"})
    body = wrong_name.get_data(as_text=True)
    assert wrong_name.status_code == 422 and "exactly as shown" in body and 'value="Zelda"' in body
    assert db.session.execute(select(ErasureJob)).first() is None
    assert db.session.get(Client, zelda["client_id"]).is_active


def test_clear_data_leaves_no_trace_keeps_payments_and_shuts_every_door(app, staff_web, zelda):
    install_clear_data()
    before = dump_everything()
    assert all(secret.lower() in before for secret in SECRETS)  # the dump does see them
    job = clear(staff_web, zelda["client_id"])
    assert job.finished_at is not None and job.done_users == 2

    after = dump_everything()
    assert [line for line in after.splitlines() if any(s.lower() in line for s in SECRETS)] == []
    assert "@example.com" not in after.replace("boss@staff.example.com", "")
    amounts = db.session.execute(select(Payment.amount).where(
        Payment.client_id == zelda["client_id"]).order_by(Payment.amount)).scalars().all()
    assert amounts == [Decimal("30.00"), Decimal("120.50")]

    assert zelda["web"].get("/home").status_code == 302  # session cookie
    assert zelda["remembered"].get("/home").status_code == 302  # remember cookie
    remember_only = WebClient(app.test_client())
    cookie = zelda["remembered"].client.get_cookie("portal_remember")
    assert cookie is not None
    remember_only.client.set_cookie("portal_remember", cookie.value)
    assert remember_only.get("/home").status_code == 302
    api = WebClient(app.test_client())
    assert api.get("/api/v1/whoami", headers={"Authorization": f"Bearer {zelda['token']}"}).status_code == 401
    for login in ("zelda@example.com", "yorick@example.org"):
        refused = WebClient(app.test_client()).post_form(
            "/login", {"login": login, "password": "client password 1"})
        assert refused.status_code == 200 and "Wrong login or password." in refused.get_data(as_text=True)

    receipt = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "client_data_cleared")).scalar_one()
    assert receipt.target_id == zelda["client_id"] and receipt.actor.login == "boss"
    assert receipt.changes["users"] == [None, 2] and receipt.changes["rows.user"] == [None, 2]
    assert receipt.changes["rows.auth_event"][1] >= 3


def wanda_moves(app) -> User:
    """A client registers as wanda@example.com, asks for a mistyped address, then moves to
    wanda@wexley.example through the link (her login follows); the old address then fails a login."""
    docs = standard_documents()
    web = browser(app, CLIENT_IP)
    register_with_consents(web, "wanda@example.com", "Wanda Wexley", {version: True for _d, version in docs.values()})
    request_email_change(web, "Wanda Wexley", "wanda@wexly.example")  # replaced before its link is used
    change_email(web, "Wanda Wexley", "wanda@wexley.example")
    browser(app, COLLEAGUE_IP).post_form("/login", {"login": "Wanda@Example.com", "password": "wrong"})
    user = db.session.execute(select(User).where(User.email == "wanda@wexley.example")).scalar_one()
    assert user.login == "wanda@wexley.example"
    return user


def test_clear_data_erases_what_names_earlier_emails_and_logins(app, staff_web):
    install_clear_data()
    user = wanda_moves(app)
    traces = ["wanda", "wexley", "wexly", CLIENT_IP, COLLEAGUE_IP, "zeldabrowser"]
    before = dump_everything()
    assert all(trace.lower() in before for trace in traces)
    named_by_old = {event: login for event, login in db.session.execute(
        select(AuthEvent.event, AuthEvent.login).where(AuthEvent.user_id.is_(None)))}
    assert named_by_old == {"register_requested": "wanda@example.com", "login_failed": "Wanda@Example.com"}
    subjects = set(db.session.execute(select(OutboxMessage.subject).where(
        OutboxMessage.recipient.in_(["wanda@example.com", "wanda@wexly.example"]))).scalars())
    assert {"Your email address was changed", "Confirm your new email address"} <= subjects

    job = clear(staff_web, user.client_id)
    assert job.finished_at is not None and job.done_users == 1
    after = dump_everything()
    assert [line for line in after.splitlines() if any(t.lower() in line for t in traces)] == []
    assert db.session.execute(select(func.count(AuthEvent.id)).where(
        AuthEvent.event.in_(["register_requested", "login_failed"]))).scalar_one() == 2  # kept, nameless


def test_an_earlier_address_another_account_now_has_is_left_to_it(app, staff_web, factories):
    """Rows naming the address from before Wanda gave it up go; the newcomer's since then stay."""
    install_clear_data()
    user = wanda_moves(app)
    for model in (AuditEvent, AuthEvent, OutboxMessage):  # she moved an hour ago
        for row in db.session.execute(select(model)).scalars():
            row.created_at -= timedelta(hours=1)
    db.session.commit()
    newcomer = factories.client_user(email="wanda@example.com", name="Nora Newcomer")
    send_mail("wanda@example.com", "Welcome", "Welcome, Nora.")
    db.session.commit()

    clear(staff_web, user.client_id)
    db.session.expire_all()
    assert db.session.get(User, newcomer.id).email == "wanda@example.com"
    assert db.session.execute(select(OutboxMessage.recipient, OutboxMessage.subject).where(
        OutboxMessage.recipient != STAFF_EMAIL)).all() == [("wanda@example.com", "Welcome")]
    assert db.session.execute(select(AuthEvent.login).where(
        AuthEvent.event == "register_requested")).scalar_one() is None  # hers, from before
    after = dump_everything()
    assert [line for line in after.splitlines() if "wexley" in line or "wexly" in line] == []


def mira_tries_two_numbers(app, factories) -> User:
    """A client asks for a code to one number, gives it up, then verifies another."""
    user = factories.client_user(email="mira@example.com", name="Mira Moss")
    web = WebClient(app.test_client())
    web.login("mira@example.com", "client password 1")
    protect()
    send(web, MOBILE_GB_2)
    web.post_form("/verify-phone/cancel", {}, page_url=PAGE)
    send(web, MOBILE_GB)
    check(web, code_in(MOBILE_GB))
    assert db.session.get(User, user.id).phone == MOBILE_GB
    return user


def test_clear_data_erases_texts_to_a_number_tried_and_given_up(app, staff_web, factories):
    install_clear_data()
    user = mira_tries_two_numbers(app, factories)
    traces = [MOBILE_GB.lstrip("+"), MOBILE_GB_2.lstrip("+"), "mira", "moss"]
    assert all(trace in dump_everything() for trace in traces)  # the dump does see them
    clear(staff_web, user.client_id)
    after = dump_everything()
    assert [line for line in after.splitlines() if any(trace in line for trace in traces)] == []


def test_clear_data_deletes_notices_still_waiting_for_the_mail_relay(app, make_app, smtp, staff_web, factories):
    install_clear_data()
    user = factories.client_user(email="waiting@example.com", name="Wanda Waiting")
    smtp.stop()
    with make_app(**smtp.app_config()).app_context():
        send_notice(db.session.get(User, user.id), "Your password was changed", "it was changed.\n")
        db.session.commit()
        assert background.settle()  # refused: it waits for its next try
    (notice,) = db.session.execute(select(PendingNotice)).scalars()
    assert notice.recipient == "waiting@example.com" and notice.attempts == 1
    clear(staff_web, user.client_id)
    assert db.session.execute(select(PendingNotice)).first() is None
    assert "wanda" not in dump_everything()


def test_the_tables_other_erasers_look_names_up_in_are_erased_last_whatever_the_import_order():
    """A fresh process registers the erasers in another order than the test run does."""
    names = [entry.name for entry in gdpr.ordered_entries()]
    assert names[-4:] == ["phone_verification", "audit_event", "client", "user"]
    assert names.index("outbox_message") < names.index("phone_verification")


def test_a_number_tried_that_another_account_now_has_is_left_to_it(app, staff_web, factories):
    """Texts to the number from before Mira gave it up go; the newcomer's since then stay."""
    install_clear_data()
    user = mira_tries_two_numbers(app, factories)
    for model in (OutboxMessage, PhoneVerification):  # she tried it an hour ago
        for row in db.session.execute(select(model)).scalars():
            row.created_at -= timedelta(hours=1)
            if model is PhoneVerification:
                row.sent_at -= timedelta(hours=1)
    db.session.commit()
    factories.client_user(email="nora@example.com", name="Nora Newcomer", phone=MOBILE_GB_2)
    send_sms(MOBILE_GB_2, "Your server is ready.")

    clear(staff_web, user.client_id)
    assert db.session.execute(select(OutboxMessage.recipient, OutboxMessage.body).where(
        OutboxMessage.recipient != STAFF_EMAIL)).all() == [(MOBILE_GB_2, "Your server is ready.")]


def test_placeholders_are_random_and_the_email_can_register_again(app, staff_web, zelda):
    install_clear_data()
    clear(staff_web, zelda["client_id"])
    emails = db.session.execute(select(User.email).where(User.id.in_(zelda["user_ids"]))).scalars().all()
    assert len(set(emails)) == 2 and all(e.endswith("@erased.invalid") for e in emails)
    web = WebClient(app.test_client())
    accepted = {version: True for _document, version in consent.current_versions()}
    assert register_with_consents(web, "zelda@example.com", "Zelda Again", accepted).headers["Location"] == "/home"
    again = db.session.execute(select(User).where(User.email == "zelda@example.com")).scalar_one()
    assert again.id not in zelda["user_ids"] and again.client_id != zelda["client_id"]
    assert web.get("/home").status_code == 200


def test_running_it_twice_is_safe(staff_web, zelda):
    install_clear_data()
    clear(staff_web, zelda["client_id"])
    second = clear(staff_web, zelda["client_id"])
    assert second.finished_at is not None and second.rows_changed["user"] == 0
    assert len(db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "client_data_cleared")).all()) == 2


def test_a_batch_gathers_the_names_it_erases_by_once(staff_user, factories):
    """Four erasers find rows by the users' names (current and earlier): one gathering a batch."""
    install_clear_data()
    owner = factories.client_user(email="nora@example.com", name="Nora")
    job = gdpr.start(owner.client, staff_user, "staff password 1", owner.client.name)
    with recorded(db.engine) as statements:
        gdpr.run_batch(job)
    gatherings = [s for s in statements if "UNION ALL" in s and "pending_email_change.email" in s]
    assert len(gatherings) == 1


@pytest.fixture
def failing_eraser():
    """A registered table whose eraser fails on its second call: a stop in the middle of a batch."""
    calls = []

    def erase(user_ids):
        calls.append(user_ids)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return 0

    personal_data.register(personal_data.PersonalData("zz_failing", {}, erase, personal_data.NotExported("a test table")))
    yield
    personal_data._REGISTRY.pop("zz_failing")


def test_a_stop_midway_leaves_whole_users_and_resumes(app, staff_web, factories, failing_eraser):
    owner = factories.client_user(email="o@example.com", name="Olga Owner")
    for n in range(4):
        factories.client_user(email=f"m{n}@example.com", name=f"Member {n}", client=owner.client)
    staff = db.session.execute(select(User).where(User.login == "boss")).scalar_one()
    member = WebClient(app.test_client())
    member.login("m0@example.com", "client password 1", remember=True)
    job = gdpr.start(owner.client, staff, "staff password 1", "Olga Owner")
    assert member.get("/home").status_code == 302  # refused before any batch has run
    assert db.session.execute(select(func.count(User.id)).where(
        User.client_id == owner.client_id, User.is_active_account.is_(True))).scalar_one() == 0
    gdpr.run_batch(job, batch_size=2)
    with pytest.raises(RuntimeError):
        gdpr.run_batch(job, batch_size=2)
    db.session.expire_all()
    names = db.session.execute(select(User.name).where(User.client_id == owner.client_id)
                               .order_by(User.id)).scalars().all()
    assert names == ["Erased user", "Erased user", "Member 1", "Member 2", "Member 3"]
    assert job.done_users == 2
    while job.finished_at is None:  # resumed where it stopped
        gdpr.run_batch(job, batch_size=2)
    assert job.finished_at is not None and job.done_users == 5
    assert set(db.session.execute(select(User.name).where(
        User.client_id == owner.client_id)).scalars()) == {"Erased user"}


def test_a_job_left_by_its_page_is_flagged_and_finished_by_the_command(runner, staff_user, factories):
    owner = factories.client_user(email="left@example.com", name="Left Behind")
    factories.client_user(email="left2@example.com", name="Left Colleague", client=owner.client)
    job = gdpr.start(owner.client, staff_user, "staff password 1", "Left Behind")  # no batch ran
    assert compliance.clear_data_answer().status == "yes"  # a job may be running right now
    job.created_at = utcnow() - gdpr.STALLED_AFTER - timedelta(minutes=1)
    db.session.commit()
    answer = compliance.clear_data_answer()
    assert answer.status == "no" and answer.details == [
        f"Client #{owner.client_id}: 0 of 2 users erased, started {job.created_at:%Y-%m-%d %H:%M} UTC"]

    result = runner.invoke(args=["finish-clear-data"])
    assert result.exit_code == 0, result.output
    assert result.output == f"Clear data of client #{owner.client_id}: finished, 2 users erased.\n"
    db.session.expire_all()
    assert set(db.session.execute(select(User.name).where(
        User.client_id == owner.client_id)).scalars()) == {"Erased user"}
    receipt = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "client_data_cleared")).scalar_one()
    assert receipt.actor.login == "boss" and receipt.changes["users"] == [None, 2]
    assert compliance.clear_data_answer().status == "yes"
    assert runner.invoke(args=["finish-clear-data"]).output == "No Clear data is unfinished.\n"


def test_password_guesses_are_logged_and_throttled(staff_web, factories):
    install_clear_data()
    client_id = factories.client_user(name="Tess Target").client_id
    url = f"/admin/clients/{client_id}/clear-data"
    statuses = [staff_web.post_form(url, {"current_password": f"guess {n}", "client_name": "Tess Target"}
                                    ).status_code for n in range(6)]
    assert statuses == [422] * 5 + [429]
    failures = db.session.execute(select(func.count(AuthEvent.id)).where(
        AuthEvent.event == "password_check_failed")).scalar_one()
    assert failures == 5
    staff = db.session.execute(select(User).where(User.login == "boss")).scalar_one()
    assert staff.locked_until is not None  # the fifth wrong password locked the account (the default)


def test_clear_data_button_partial_follows_the_module(app, staff_user, factories):
    client = factories.client_user().client

    def button() -> str:
        with app.test_request_context():
            login_user(staff_user)
            return render_template("gdpr/_clear_data_button.html", client=client)

    assert "Clear data" not in button()
    assert 'needs the "GDPR client data cleaning" module' in button()  # says why there is no button
    install_clear_data()
    assert f'href="/admin/clients/{client.id}/clear-data"' in button() and "module" not in button()


def test_google_sign_up_asks_for_consent_and_cannot_bring_a_cleared_account_back(
        make_app, oidc, staff_web):
    standard_documents()
    install_clear_data()
    google = make_app(**oidc.app_config("google"))
    switch_on()
    sub = sub_name()
    oidc.add_user(sub, email=f"{sub}@gmail.test", name="Gina Google")
    web = WebClient(google.test_client())
    assert oauth_login(web, oidc, "google", sub).headers["Location"] == "/home"
    assert web.get("/home").headers["Location"].endswith("/consent/accept")  # the same consents
    first = db.session.execute(select(User).where(User.email == f"{sub}@gmail.test")).scalar_one()
    web.post_form("/consent/accept", {"version": [str(v.id) for _d, v in consent.current_versions()]})
    assert web.get("/home").status_code == 200

    clear(staff_web, first.client_id)
    assert web.get("/home").status_code == 302
    again = WebClient(google.test_client())
    assert oauth_login(again, oidc, "google", sub).status_code == 302
    user = db.session.execute(select(User).where(User.email == f"{sub}@gmail.test")).scalar_one()
    assert user.id != first.id and user.client_id != first.client_id
    assert db.session.get(User, first.id).name == "Erased user"


def test_clear_data_erases_earlier_names_and_old_password_hashes(app, staff_web, factories):
    """Names given up before the clear (the user's, the client's) live only in the audit trail's
    recorded changes, under personal keys; old password hashes live in the password history."""
    install_clear_data()
    user = factories.client_user(email="annabel@example.com", name="Annabel Lighthouse")
    web = WebClient(app.test_client())
    web.login("annabel@example.com", "client password 1")
    renamed = web.post_form("/settings/general", {"name": "Ann Other", "email": "annabel@example.com"})
    assert renamed.status_code == 302
    changed = web.post_form("/settings/general/password", {
        "current_password": "client password 1", "password": "violet kettle under moonlight",
        "confirm": "violet kettle under moonlight"}, page_url="/settings/general")
    assert changed.status_code == 302
    edited = staff_web.post_form(f"/admin/clients/{user.client_id}/edit", {"name": "Lighthouse Keepers Ltd"})
    assert edited.status_code == 302
    assert "lighthouse" in dump_everything()
    assert db.session.execute(select(func.count(PasswordHistory.id)).where(
        PasswordHistory.user_id == user.id)).scalar_one() == 1

    clear(staff_web, user.client_id)
    after = dump_everything()
    assert [line for line in after.splitlines() if "lighthouse" in line or "annabel" in line] == []
    assert db.session.execute(select(func.count(PasswordHistory.id)).where(
        PasswordHistory.user_id == user.id)).scalar_one() == 0


def test_the_typed_client_name_must_match_exactly_case_included(staff_web, factories):
    install_clear_data()
    owner = factories.client_user(email="case@example.com", name="Casey Case")
    url = f"/admin/clients/{owner.client_id}/clear-data"
    for typed in ("casey case", "CASEY CASE"):
        refused = staff_web.post_form(url, {"current_password": "staff password 1", "client_name": typed})
        assert refused.status_code == 422 and "exactly as shown" in refused.get_data(as_text=True)
    assert db.session.execute(select(ErasureJob)).first() is None
    assert db.session.get(Client, owner.client_id).is_active
