"""Global settings → Security: password policy, captcha, recovery and brute-force defence."""

from flask import flash, redirect, render_template, url_for
from wtforms import SubmitField, ValidationError

from portal.blueprints.admin import bp
from portal.extensions import db
from portal.forms import PortalForm, setting_field
from portal.services import captcha, lockout, password_policy, recovery, settings, signin_notices
from portal.services.permissions import requires
from portal.wording import counted

SECTIONS = {
    "Password requirements": password_policy.KEYS,
    "Captcha": captcha.KEYS,
    "Password recovery": recovery.KEYS,
    "Brute-force defence": lockout.KEYS,
    "Sign-in notices": signin_notices.KEYS,
}
RECAPTCHA_NEEDS_KEYS = ("Google reCAPTCHA needs RECAPTCHA_PUBLIC_KEY and RECAPTCHA_PRIVATE_KEY "
                        "in the configuration: set both, or choose another captcha. Until then ALTCHA is used.")


class SecuritySettingsForm(PortalForm):
    """Field names are the setting keys with "." written as "__" (added below from SECTIONS)."""

    submit = SubmitField("Save")

    def sections(self):
        """(title, fields) in page order."""
        return [(title, [self[key.replace(".", "__")] for key in keys])
                for title, keys in SECTIONS.items()]

    def values(self) -> dict:
        return {key: self[key.replace(".", "__")].data for keys in SECTIONS.values() for key in keys}

    def captcha_problem(self) -> str | None:
        """Why the chosen captcha cannot work here, if it cannot."""
        if self.captcha__mode.data == "recaptcha" and not captcha.recaptcha_configured():
            return RECAPTCHA_NEEDS_KEYS
        return None

    def validate_captcha__mode(self, field):
        if problem := self.captcha_problem():
            raise ValidationError(problem)


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
        if changes:
            flash(f"Saved {counted(len(changes), 'change')}.", "success")
        else:
            flash("Nothing to save: no setting was changed.", "info")
        return redirect(url_for("admin.security_settings"))
    if not form.is_submitted() and (problem := form.captcha_problem()):
        form.captcha__mode.errors = [problem]  # chosen before the keys left the configuration
    return render_template("admin/security_settings.html", form=form)
