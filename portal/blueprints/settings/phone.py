"""General settings: the user's phone number; a change clears its verified state and needs the password."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.settings import bp
from portal.blueprints.settings.forms import PhoneChangeForm
from portal.extensions import htmx
from portal.services import phone_verification, profile, reauth
from portal.services.permissions import requires
from portal.services.throttle import per_ip, per_user

OUTCOMES = {  # what profile.change_phone did -> the message
    profile.PHONE_SAVED: ("success", "Phone number saved. Verify it before ordering services that need it."),
    profile.PHONE_UNCHANGED: ("info", "Your phone number is unchanged."),
    profile.PHONE_CONFIRMED: ("success", "Your phone number is confirmed: it receives codes from now on."),
}


@bp.context_processor
def phone_change_form():
    """The settings pages include settings/_phone.html, which builds its form with this."""
    return {"phone_change_form": lambda: PhoneChangeForm(formdata=None, phone=current_user.phone or "")}


@bp.route("/phone", methods=["POST"])
@requires("self.account")
@per_ip("RATELIMIT_PHONE_CHANGE_PER_IP")
@per_user("RATELIMIT_PHONE_CHANGE_PER_ACCOUNT")
def change_phone():
    form = PhoneChangeForm()
    if form.validate_on_submit():
        try:
            outcome = profile.change_phone(current_user, form.phone.data, form.current_password.data)
        except reauth.CurrentPasswordWrong as error:
            form.current_password.errors.append(error.message)
        except phone_verification.VerificationError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            category, message = OUTCOMES[outcome]
            if htmx:
                return render_template("settings/_phone.html", phone_form=None, phone_message=message,
                                       phone_message_category=category)
            flash(message, category)
            return redirect(url_for("settings.general"))
    template = "settings/_phone.html" if htmx else "settings/phone.html"
    return render_template(template, phone_form=form)
