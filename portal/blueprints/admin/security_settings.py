"""Global settings → Security: password policy, captcha, recovery and brute-force defence."""

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, SubmitField
from wtforms.validators import InputRequired, NumberRange

from portal.blueprints.admin import bp
from portal.extensions import db
from portal.services import captcha, lockout, password_policy, recovery, settings
from portal.services.permissions import requires

SECTIONS = {
    "Password requirements": password_policy.KEYS,
    "Captcha": captcha.KEYS,
    "Password recovery": recovery.KEYS,
    "Brute-force defence": lockout.KEYS,
}


def _number(label: str, low: int, high: int) -> IntegerField:
    return IntegerField(label, validators=[InputRequired(), NumberRange(low, high)])


class SecuritySettingsForm(FlaskForm):
    """Field names are the setting keys with "." written as "__"."""

    password__min_length = _number("Minimum length", 8, 128)
    password__max_length = _number("Maximum length (at least 128)", 128, 1024)
    password__require_lower = BooleanField("Lowercase letters required")
    password__require_upper = BooleanField("Uppercase letters required")
    password__require_digit = BooleanField("Numbers required")
    password__require_special = BooleanField("Special characters (such as ! or $) required")
    password__block_common = BooleanField("Refuse common passwords")
    password__block_personal = BooleanField("Refuse the user's own login, email and name")
    password__history = _number("Previous passwords that may not be reused", 0, 24)
    captcha__mode = SelectField("Captcha", choices=list(captcha.MODES.items()))
    captcha__after_failures = _number(
        "At login and recovery, ask after this many failures (IP or account)", 1, 100)
    recovery__channels = SelectField("Recovery by", choices=list(recovery.CHANNELS.items()))
    recovery__link_minutes = _number("Email link valid for (minutes, at most 60)", 5, 60)
    recovery__code_minutes = _number("SMS code valid for (minutes, at most 10)", 1, 10)
    recovery__code_attempts = _number("Wrong codes before a code dies", 1, 10)
    lockout__account_failures = _number("Failed attempts per account before a lock", 1, 100)
    lockout__ip_failures = _number("Failed attempts per IP address before a lock", 1, 10000)
    lockout__lock_minutes = _number(
        "Length of the first lock in minutes (each further lock doubles it)", 1, 1440)
    lockout__notify_owner = BooleanField("Email the owner when their account is locked")
    submit = SubmitField("Save")

    def sections(self):
        """(title, fields) in page order."""
        return [(title, [self[key.replace(".", "__")] for key in keys])
                for title, keys in SECTIONS.items()]

    def values(self) -> dict:
        return {key: self[key.replace(".", "__")].data for keys in SECTIONS.values() for key in keys}


@bp.route("/settings/security", methods=["GET", "POST"])
@requires("settings.security")
def security_settings():
    current = {key.replace(".", "__"): settings.get(key)
               for keys in SECTIONS.values() for key in keys}
    form = SecuritySettingsForm(data=current)
    if form.validate_on_submit():
        changes = settings.update(form.values(), audit_action="security_settings_changed")
        db.session.commit()
        flash(f"Saved {len(changes)} change{'s' if len(changes) != 1 else ''}.", "success")
        return redirect(url_for("admin.security_settings"))
    return render_template("admin/security_settings.html", form=form)
