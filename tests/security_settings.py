"""Global settings → Security in tests: the stored form with changes, saved as staff would."""

from flask import g

from portal.blueprints.admin.security_settings import SECTIONS
from portal.extensions import db
from portal.services import settings


def security_form(**changes) -> dict:
    """Global settings → Security as stored, with `changes` (form field names) on top."""
    values = {key.replace(".", "__"): settings.get(key) for keys in SECTIONS.values() for key in keys}
    return {name: ("y" if value is True else value) for name, value in {**values, **changes}.items()
            if value is not False}


def set_policy(staff_web, **changes):
    """Save the admin page: the stored values, with `changes` (form field names) on top."""
    response = staff_web.post_form("/admin/settings/security", security_form(**changes))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    db.session.expire_all()
    g.pop("_settings_cache", None)
