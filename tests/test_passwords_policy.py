"""Password policy: every rule at registration, change and reset; staff change it at run time."""

import pytest
from flask import g
from sqlalchemy import select

from portal.blueprints.admin.security_settings import SECTIONS
from portal.extensions import db
from portal.models import AuditEvent, PendingRegistration, User
from portal.services import password_policy, settings
from tests.security_settings import security_form, set_policy
from tests.signup import register
from tests.web import WebClient


@pytest.mark.parametrize("password, reason", [
    ("short pw 9", "Use at least 12 characters."),
    ("superman1234", "This password is too common. Choose another."),
    ("Password123456!", "This password is too common. Choose another."),
    ("rowan likes tea 7", "Do not use your login, email or name in the password."),
    ("my new@example.com pass", "Do not use your login, email or name in the password."),
    ("x" * 129, "Use at most 128 characters."),
])
def test_registration_refuses_each_rule_with_its_reason(web, password, reason):
    body = register(web, name="Rowan Quill", password=password).get_data(as_text=True)
    assert reason in body
    assert 'value="Rowan Quill"' in body and password not in body
    assert db.session.execute(select(PendingRegistration)).first() is None


def test_registration_accepts_a_long_unusual_password(web):
    assert "Check your email" in register(web, password="violet kettle under moonlight").get_data(as_text=True)


def test_composition_rules_follow_the_admin_page_at_once(web, staff_web):
    set_policy(staff_web, password__require_upper=True, password__require_digit=True,
               password__require_special=True, password__min_length=14)
    visitor = WebClient(web.application.test_client())
    body = register(visitor, password="violet kettle moon").get_data(as_text=True)
    assert "Add an uppercase letter." in body
    body = register(visitor, password="Violet kettle moon").get_data(as_text=True)
    assert "Add a number." in body
    body = register(visitor, password="Violet kettle 9").get_data(as_text=True)
    assert "Add a special character such as ! or $." in body
    body = register(visitor, password="Violet kettle9!").get_data(as_text=True)
    assert "Check your email" in body
    audit = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "security_settings_changed")).scalar_one()
    assert audit.actor_label == "boss"
    assert audit.changes["password.min_length"] == [12, 14]
    assert audit.changes["password.require_upper"] == [False, True]
    set_policy(staff_web, password__require_upper=False, password__require_digit=False,
               password__require_special=False, password__min_length=12)
    body = register(visitor, password="lowercase words only", email="other@example.com").get_data(as_text=True)
    assert "Check your email" in body


def test_admin_page_says_so_when_a_save_changes_nothing(staff_web):
    unchanged = staff_web.post_form("/admin/settings/security", security_form(), follow_redirects=True)
    assert '<p class="flash flash-info">Nothing to save: no setting was changed.</p>' in unchanged.get_data(as_text=True)
    changed = staff_web.post_form("/admin/settings/security", security_form(password__min_length=14),
                                  follow_redirects=True)
    assert '<p class="flash flash-success">Saved 1 change.</p>' in changed.get_data(as_text=True)


def test_admin_page_needs_its_function(web, factories):
    factories.staff(login="helper", password="staff password 1")
    web.login("helper", "staff password 1")
    assert web.get("/admin/settings/security").status_code == 403


def test_admin_page_refuses_a_maximum_below_128(staff_web):
    page = staff_web.post_form("/admin/settings/security", {"password__max_length": "64"})
    assert page.status_code == 200
    assert "Number must be between 128 and 1024." in page.get_data(as_text=True)


NUMBER_KEYS = [key for keys in SECTIONS.values() for key in keys if settings.definition(key).bounds]


@pytest.mark.parametrize("key", NUMBER_KEYS)
@pytest.mark.parametrize("side", ["below", "above"])
def test_admin_page_refuses_each_number_out_of_bounds_beside_it_and_saves_nothing(staff_web, key, side):
    low, high = settings.definition(key).bounds
    name = key.replace(".", "__")
    wrong = low - 1 if side == "below" else high + 1
    other = "password__history" if key != "password.history" else "password__min_length"
    before = {k: settings.get(k) for keys in SECTIONS.values() for k in keys}
    page = staff_web.post_form("/admin/settings/security",
                               security_form(**{name: wrong, other: settings.get(other.replace("__", ".")) + 1}))
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<p class="error" id="{name}-error">Number must be between {low} and {high}.</p>' in body
    assert f'value="{wrong}"' in body  # what was typed stays in the field
    assert "Nothing was saved: correct the fields marked below." in body
    db.session.expire_all()
    g.pop("_settings_cache", None)
    assert {k: settings.get(k) for keys in SECTIONS.values() for k in keys} == before
    assert db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "security_settings_changed")).first() is None


def test_live_check_answers_with_the_rules_fragment(web):
    response = web.htmx("POST", "/password/check", page_url="/register",
                        data={"password": "rowan123", "name": "Rowan Quill",
                              "email": "rq@example.com"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert '<li class="fail">At least 12 characters</li>' in body
    assert '<li class="fail">Not your login, email or name</li>' in body
    good = web.htmx("POST", "/password/check", page_url="/register",
                    data={"password": "violet kettle under moonlight"}).get_data(as_text=True)
    assert "fail" not in good and good.count('class="ok"') == 4


def test_live_check_needs_csrf(web):
    assert web.post("/password/check", data={"password": "x"}).status_code == 400


def test_hundred_characters_work_and_the_72_prefix_does_not(web, factories):
    long_password = "".join(f"{i:02d}-words" for i in range(13))[:100]
    assert len(long_password) == 100
    factories.client_user(email="long@example.com", password=long_password)
    refused = web.post_form("/login", {"login": "long@example.com", "password": long_password[:72]})
    assert "Wrong login or password." in refused.get_data(as_text=True)
    assert web.login("long@example.com", long_password).headers["Location"] == "/home"


def test_common_list_ships_at_least_ten_thousand(app):
    assert len(password_policy.common_passwords()) >= 10_000
    assert password_policy.is_common("qwerty") and password_policy.is_common("Dragon2024!")
    assert not password_policy.is_common("violet kettle under moonlight")


def test_user_record_is_untouched_by_a_refused_registration(web, client_user):
    register(web, password="short", email="client@example.com")
    assert db.session.execute(select(User.id)).scalars().all() == [client_user.id]


def test_registration_refuses_the_local_part_of_the_email(web):
    body = register(web, password="rowanq kettle moon 7", email="rowanq@example.com", name="Ann Other"
                    ).get_data(as_text=True)
    assert "Do not use your login, email or name in the password." in body
    assert db.session.execute(select(PendingRegistration)).first() is None


def test_the_length_limits_are_inclusive(web):
    """Exactly the minimum and exactly the maximum are allowed; one less or one more is not."""
    assert "Use at least 12 characters." in register(web, password="kettle moon").get_data(as_text=True)  # 11
    assert "Check your email" in register(web, password="kettle moon7").get_data(as_text=True)  # 12
    longest = ("violet kettle under moonlight " * 5)[:128]
    assert "Check your email" in register(web, password=longest, email="long@example.com").get_data(as_text=True)


def test_lowercase_rule_follows_the_admin_page(web, staff_web):
    set_policy(staff_web, password__require_lower=True)
    visitor = WebClient(web.application.test_client())
    assert "Add a lowercase letter." in register(visitor, password="VIOLET KETTLE MOON").get_data(as_text=True)
    assert "Check your email" in register(visitor, password="VIOLET kettle MOON").get_data(as_text=True)


def test_a_four_letter_name_is_refused_in_the_password(web):
    body = register(web, password="bell tower moonlight", name="Zed Bell").get_data(as_text=True)
    assert "Do not use your login, email or name in the password." in body
    assert db.session.execute(select(PendingRegistration)).first() is None
