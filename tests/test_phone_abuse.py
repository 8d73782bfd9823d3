"""SMS-pumping defences and the numbers' filter: budgets, cooldown, daily cap, reused numbers."""

import re

import pytest
from limits.storage import storage_from_string

from portal.extensions import db
from portal.models import User
from portal.models.base import utcnow
from portal.services import phone_filter, second_factor, sms_budget
from portal.services.personal_data import registered
from portal.services.phone_filter import PhoneRefused, PhoneRules, check_pattern, parse_countries
from tests.fraud_support import (
    LANDLINE_GB,
    MOBILE_DE,
    MOBILE_GB,
    MOBILE_GB_2,
    auth_events,
    check,
    client_of_a_second_provider,
    protect,
    send,
    verifications,
)
from tests.outbox import code_in, sms_count
from tests.web import WebClient

TOO_MANY = "Too many codes were requested"


def send_answer(web, number) -> str:
    """The page answering a code asked for `number`."""
    return send(web, number).get_data(as_text=True)


@pytest.fixture
def signed_in(make_app, factories):
    """signed_in(**config) -> a function that signs a new client user in on that app."""
    def build(**config):
        app = make_app(**config)

        def user():
            login = factories.client_user().email
            web = WebClient(app.test_client())
            web.login(login, "client password 1")
            return web
        return user
    return build


def test_anonymous_visitors_never_trigger_a_message(web, app):
    protect()
    for url in ("/verify-phone/send", "/verify-phone/check", "/settings/phone"):
        response = web.post_form(url, {"phone": MOBILE_GB, "code": "123456"}, page_url="/login")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert sms_count() == 0


def test_resend_cooldown(client_web):
    protect(resend_cooldown=60)
    send(client_web, MOBILE_GB)
    assert "Please wait" in send_answer(client_web, MOBILE_GB) and sms_count() == 1
    assert auth_events("phone_verification_refused")[0].detail.endswith("budget: cooldown")


@pytest.mark.parametrize("config, numbers, same_user", [
    ({"FRAUD_SMS_PER_ACCOUNT": "2 per hour"}, [MOBILE_GB, MOBILE_GB_2, MOBILE_DE], True),
    ({"FRAUD_SMS_PER_IP": "2 per hour"}, [MOBILE_GB, MOBILE_GB_2, MOBILE_DE], False),
    ({"FRAUD_SMS_PER_NUMBER": "2 per hour"}, [MOBILE_GB, MOBILE_GB, MOBILE_GB], False),
    ({"FRAUD_SMS_PER_COUNTRY": "2 per hour"}, [MOBILE_GB, MOBILE_GB_2, "+447400123458"], False),
    ({"FRAUD_SMS_DAILY_CAP": "2 per day"}, [MOBILE_GB, MOBILE_DE, "+33612345678"], False),
])
def test_budgets_stop_the_third_message(signed_in, config, numbers, same_user):
    protect(resend_cooldown=10)
    user = signed_in(**config)
    webs = [user()] * 3 if same_user else [user(), user(), user()]
    for web, number in zip(webs[:2], numbers[:2], strict=True):
        assert TOO_MANY not in send_answer(web, number)
    assert TOO_MANY in send_answer(webs[2], numbers[2])
    assert sms_count() == 2 and len(verifications()) == 2


def test_the_daily_cap_counts_every_text_the_portal_sends(make_app, factories, caplog):
    """Sign-in and recovery codes go to numbers verified before, but cost the same: once the daily
    cap is spent, no text leaves, whatever asks for it."""
    protect()
    app = make_app(FRAUD_SMS_DAILY_CAP="2 per day")
    owner = factories.client_user(email="owner@example.com", phone=MOBILE_DE, phone_verified_at=utcnow())
    second_factor.enable_sms(owner, "client password 1")
    db.session.commit()
    factories.client_user(email="recovers@example.com", phone="+4915123456780", phone_verified_at=utcnow())
    recovering = WebClient(app.test_client())

    def ask_recovery():  # by another account: one that signs in with SMS codes recovers by email
        answer = recovering.post_form("/recover", {"login": "recovers@example.com", "channel": "sms"})
        assert answer.headers["Location"] == "/recover/code"  # the same answer, sent or not

    ask_recovery()
    verifying = WebClient(app.test_client())
    verifying.login(factories.client_user().email, "client password 1")
    assert TOO_MANY not in send_answer(verifying, MOBILE_GB)
    assert sms_count() == 2

    ask_recovery()
    signing_in = WebClient(app.test_client())
    assert signing_in.post_form("/login", {"login": "owner@example.com", "password": "client password 1"}
                                ).headers["Location"] == "/login/2fa"
    signing_in.post_form("/login/2fa/sms", {}, page_url="/login/2fa")
    assert TOO_MANY in signing_in.get("/login/2fa").get_data(as_text=True)
    assert TOO_MANY in send_answer(verifying, MOBILE_GB_2)
    assert sms_count() == 2
    assert "SMS budget daily_cap spent" in caplog.text


def test_recovery_cannot_flood_a_verified_phone(make_app, factories):
    """Anyone may ask recovery to text an account's phone: the number's budget for codes stops it."""
    app = make_app(FRAUD_SMS_CODES_PER_NUMBER="2 per hour")
    factories.client_user(email="owner@example.com", phone=MOBILE_DE, phone_verified_at=utcnow())
    for _ in range(4):
        stranger = WebClient(app.test_client())
        answer = stranger.post_form("/recover", {"login": "owner@example.com", "channel": "sms"})
        assert answer.headers["Location"] == "/recover/code"  # the same answer, sent or not
    assert sms_count() == 2


def test_country_budget_is_per_country(signed_in):
    protect()
    user = signed_in(FRAUD_SMS_PER_COUNTRY="1 per hour")
    send(user(), MOBILE_GB)
    assert TOO_MANY in send_answer(user(), MOBILE_GB_2)
    assert TOO_MANY not in send_answer(user(), MOBILE_DE)


REFUSALS = [
    ({"countries": ["DE"]}, MOBILE_GB, "Numbers from United Kingdom are not accepted", "country"),
    ({"mobile_only": True}, LANDLINE_GB, "Only mobile numbers are accepted", "not_mobile"),
    ({"pattern": "^49"}, MOBILE_GB, "This number is not accepted", "pattern"),
    ({}, "07400 123456", "international form", "malformed"),
    ({}, "+44 abc", "does not look like a phone number", "malformed"),
    ({}, "+44 12", "does not exist", "invalid"),
]


@pytest.mark.parametrize("rules, number, message, reason", REFUSALS)
def test_the_filter_refuses_with_its_reason(client_web, rules, number, message, reason):
    protect(**rules)
    body = send_answer(client_web, number)
    assert message in body and 'class="error"' in body
    assert f'value="{number}"' in body  # what the customer typed stays in the field
    assert sms_count() == 0 and verifications() == []
    (logged,) = auth_events("phone_verification_refused")
    assert logged.detail.endswith(reason)


def test_the_filter_accepts_by_region_or_calling_code_and_ignores_formatting():
    rules = PhoneRules(countries=("+49", "GB"), mobile_only=True, pattern=r"^(44|49)\d+$")
    assert phone_filter.check("+44 (7400) 123-456", rules).national_number == 7400123456
    assert phone_filter.check("0049 151 23456789", rules).country_code == 49
    assert phone_filter.check(MOBILE_GB, PhoneRules(pattern="7400")).country_code == 44  # searched anywhere in the digits
    with pytest.raises(PhoneRefused) as refused:
        phone_filter.check("+33 6 12 34 56 78", rules)
    assert refused.value.reason == "country"


def test_countries_list_is_checked():
    assert parse_countries("gb, +49;DE  gb") == ["GB", "+49", "DE"]
    with pytest.raises(ValueError, match="XX"):
        parse_countries("GB, XX")


@pytest.mark.parametrize("policy", ["refuse", "flag"])
def test_a_number_verified_by_another_account(client_web, factories, policy):
    factories.client_user(email="first@example.com", phone=MOBILE_GB, phone_verified_at=utcnow())
    protect(reused_number=policy)
    body = send_answer(client_web, MOBILE_GB)
    if policy == "refuse":
        assert "This number cannot be used" in body and sms_count() == 0
        return
    check(client_web, code_in(MOBILE_GB))
    (row,) = verifications()
    assert row.status == "verified" and row.flagged
    assert db.session.get(User, row.user_id).phone_verified_at is not None
    assert len(auth_events("phone_verification_flagged")) == 1


def error_of(body: str) -> str:
    """The message next to the number field."""
    return re.search(r'class="error"[^>]*>([^<]+)<', body).group(1)


def test_asking_for_a_number_verified_by_another_account_costs_what_a_code_costs(signed_in, factories):
    """The refusal is the only answer that tells a customer's number from a stranger's: it takes
    from the budgets and starts the cooldown like a text, so it cannot be probed for free."""
    for taken in (MOBILE_GB, MOBILE_DE):
        factories.client_user(phone=taken, phone_verified_at=utcnow())
    protect(reused_number="refuse", resend_cooldown=60)
    web = signed_in(FRAUD_SMS_PER_ACCOUNT="2 per hour")()
    assert "This number cannot be used" in send_answer(web, MOBILE_GB)
    assert TOO_MANY not in send_answer(web, MOBILE_GB_2) and sms_count() == 1
    assert "Please wait" in error_of(send_answer(web, MOBILE_GB)) and "Please wait" in error_of(send_answer(web, MOBILE_GB_2))
    # the budget is spent: a number never asked for answers the same, a customer's or not
    assert error_of(send_answer(web, MOBILE_DE)) == error_of(send_answer(web, "+447400123458")) == sms_budget.TOO_MANY
    assert sms_count() == 1
    assert [row.detail.split(": ", 1)[1] for row in auth_events("phone_verification_refused")] == [
        "verified by another account", "budget: cooldown", "budget: cooldown", "budget: account", "budget: account"]


def test_a_number_freed_after_use_still_counts_as_verified_by_another_account(signed_in):
    """One account verifies, then clears its phone in General settings: the number stays used."""
    protect(reused_number="refuse")
    user = signed_in()
    first = user()
    send(first, MOBILE_GB)
    check(first, code_in(MOBILE_GB))
    cleared = first.post_form("/settings/phone", {"phone": "", "current_password": "client password 1"},
                              page_url="/settings/general")
    assert cleared.status_code == 302
    assert "This number cannot be used" in send_answer(user(), MOBILE_GB)
    assert [row.status for row in verifications()] == ["verified"]


def test_code_checks_are_throttled_per_account(signed_in):
    protect()
    web = signed_in(RATELIMIT_PHONE_CODE_PER_ACCOUNT="2 per hour")()
    send(web, MOBILE_GB)
    statuses = [check(web, "00000000").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_gdpr_erasure_finds_the_verifications(client_web, client_user):
    protect()
    send(client_web, MOBILE_GB)
    (entry,) = [e for e in registered() if e.name == "phone_verification"]
    assert {"number", "ip"} <= set(entry.fields)
    assert entry.erase([client_user.id]) == 1
    db.session.commit()
    assert verifications() == []


def test_code_checks_are_throttled_per_address(signed_in):
    protect()
    user = signed_in(RATELIMIT_PHONE_CODE_PER_IP="2 per hour")
    first, second = user(), user()
    send(first, MOBILE_GB)
    send(second, MOBILE_DE)
    statuses = [check(first, "00000000").status_code for _ in range(2)]
    statuses.append(check(second, "00000000").status_code)
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("policy", ["refuse", "flag"])
def test_a_number_verified_by_another_account_while_the_code_was_waiting(signed_in, policy):
    """Two accounts ask for codes to the same number before either verifies it: the second
    code is checked against the rule too, so the number cannot be shared by racing the check."""
    protect(reused_number=policy)
    user = signed_in()
    first, second = user(), user()
    send(first, MOBILE_GB)
    first_code = code_in(MOBILE_GB)
    send(second, MOBILE_GB)
    second_code = code_in(MOBILE_GB)
    assert len(verifications()) == 2 and not any(row.flagged for row in verifications())
    check(first, first_code)
    body = check(second, second_code).get_data(as_text=True)
    first_row, second_row = verifications()
    assert first_row.status == "verified" and not first_row.flagged
    if policy == "refuse":
        assert "This number cannot be used" in body
        assert second_row.status == "cancelled"
        assert db.session.get(User, second_row.user_id).phone_verified_at is None
        return
    assert second_row.status == "verified" and second_row.flagged
    assert len(auth_events("phone_verification_flagged")) == 1


def test_a_filter_tightened_while_the_code_waits_refuses_the_number_at_the_check(client_web, client_user):
    """Staff block a country after the code went out: the right code no longer verifies that number."""
    protect()
    send(client_web, MOBILE_GB)
    code = code_in(MOBILE_GB)
    protect(countries=["DE"])
    body = check(client_web, code).get_data(as_text=True)
    assert "Numbers from United Kingdom are not accepted" in body
    (row,) = verifications()
    assert row.status == "cancelled" and db.session.get(User, client_user.id).phone_verified_at is None


def test_the_cooldown_says_how_long_is_left(client_web):
    """The wait shown is what is left of the cooldown staff chose, not some other figure."""
    protect(resend_cooldown=90)
    send(client_web, MOBILE_GB)
    wait = re.search(r"Please wait (\d+) seconds? before", error_of(send_answer(client_web, MOBILE_GB)))
    assert wait and 80 <= int(wait.group(1)) <= 90
    assert sms_count() == 1


def test_a_refused_send_takes_nothing_from_the_other_budgets(signed_in):
    """Refused by one budget, a request costs the others nothing: the account keeps its texts."""
    protect(resend_cooldown=10)
    user = signed_in(FRAUD_SMS_PER_NUMBER="1 per hour", FRAUD_SMS_PER_ACCOUNT="2 per hour")
    send(user(), MOBILE_GB)
    web = user()
    assert TOO_MANY in send_answer(web, MOBILE_GB)  # the number's budget is spent
    assert TOO_MANY not in send_answer(web, MOBILE_DE)
    assert TOO_MANY not in send_answer(web, "+33612345678")
    assert sms_count() == 3
    assert [row.detail.split(": ", 1)[1] for row in auth_events("phone_verification_refused")] == ["budget: number"]


def test_a_spent_country_budget_alerts_the_staff_log(signed_in, caplog):
    protect()
    user = signed_in(FRAUD_SMS_PER_COUNTRY="1 per hour")
    send(user(), MOBILE_GB)
    assert TOO_MANY in send_answer(user(), MOBILE_GB_2)
    assert "SMS budget country spent" in caplog.text


def test_no_text_leaves_while_the_counter_store_is_away(client_web, app, caplog):
    """Budgets that cannot be checked refuse: a store that is down never means unbudgeted texts."""
    protect()
    app.extensions["counters"] = storage_from_string("redis://127.0.0.1:1")  # nothing listens there
    body = send_answer(client_web, MOBILE_GB)
    assert error_of(body) == sms_budget.STORE_AWAY
    assert sms_count() == 0 and verifications() == []
    assert auth_events("phone_verification_refused")[0].detail.endswith("budget: storage")
    assert "SMS budgets cannot be checked" in caplog.text


def test_a_number_that_cannot_exist_is_refused_before_any_text(client_web):
    """Digits of a plausible length are not enough: the number must be in a range that is in use."""
    protect()
    body = send_answer(client_web, "+44 1000 000000")
    assert "This phone number does not exist" in body
    assert sms_count() == 0 and verifications() == []


def test_a_stored_pattern_is_checked_for_length():
    assert check_pattern("^44" + "7" * 197) == "^44" + "7" * 197
    with pytest.raises(ValueError, match="at most 200"):
        check_pattern("^44" + "7" * 198)


def test_the_budget_for_codes_is_per_number(make_app, factories):
    """Recovery codes to one number do not spend what another number may receive."""
    app = make_app(FRAUD_SMS_CODES_PER_NUMBER="1 per hour")
    for email, phone in (("de@example.com", MOBILE_DE), ("gb@example.com", MOBILE_GB)):
        factories.client_user(email=email, phone=phone, phone_verified_at=utcnow())
        WebClient(app.test_client()).post_form("/recover", {"login": email, "channel": "sms"})
    assert sms_count() == 2


def test_a_number_another_account_only_saved_is_not_taken(client_web, factories):
    """Typing a number into General settings is not verifying it: nobody can block someone
    else's number by saving it on their own account."""
    factories.client_user(email="squatter@example.com", phone=MOBILE_GB)
    protect(reused_number="refuse")
    assert "This number cannot be used" not in send_answer(client_web, MOBILE_GB) and sms_count() == 1
    check(client_web, code_in(MOBILE_GB))
    (row,) = verifications()
    assert row.status == "verified" and not row.flagged


@pytest.mark.parametrize("for_its_provider", [False, True])
def test_the_filter_is_the_one_of_the_users_own_provider(app, factories, for_its_provider):
    web = client_of_a_second_provider(app, factories, {"countries": ["DE"]}, for_its_provider)
    assert ("Numbers from United Kingdom are not accepted" in send_answer(web, MOBILE_GB)) is for_its_provider
