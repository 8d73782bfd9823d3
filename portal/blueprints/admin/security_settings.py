"""Global settings → Security: password policy, captcha, recovery and brute-force defence."""

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SubmitField

from portal.blueprints.admin import bp
from portal.extensions import db
from portal.forms import setting_field
from portal.services import captcha, lockout, password_policy, recovery, settings
from portal.services.permissions import requires
from portal.wording import counted

SECTIONS = {
    "Password requirements": password_policy.KEYS,
    "Captcha": captcha.KEYS,
    "Password recovery": recovery.KEYS,
    "Brute-force defence": lockout.KEYS,
}


class SecuritySettingsForm(FlaskForm):
    """Field names are the setting keys with "." written as "__" (added below from SECTIONS)."""

    submit = SubmitField("Save")

    def sections(self):
        """(title, fields) in page order."""
        return [(title, [self[key.replace(".", "__")] for key in keys])
                for title, keys in SECTIONS.items()]

    def values(self) -> dict:
        return {key: self[key.replace(".", "__")].data for keys in SECTIONS.values() for key in keys}


for _key in (key for keys in SECTIONS.values() for key in keys):
    setattr(SecuritySettingsForm, _key.replace(".", "__"), setting_field(_key))


@bp.route("/settings/security", methods=["GET", "POST"])
@requires("settings.security")
def security_settings():
    current = {key.replace(".", "__"): settings.get(key)
               for keys in SECTIONS.values() for key in keys}
    form = SecuritySettingsForm(data=current)
    if form.validate_on_submit():
        changes = settings.update(form.values(), audit_action="security_settings_changed")
        db.session.commit()
        flash(f"Saved {counted(len(changes), 'change')}.", "success")
        return redirect(url_for("admin.security_settings"))
    return render_template("admin/security_settings.html", form=form)
