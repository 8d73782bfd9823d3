"""Setting up and removing second factors in /settings/security (each change needs the current password)."""

from flask import abort, flash, redirect, url_for
from flask_login import current_user

from portal.blueprints.settings import bp
from portal.blueprints.settings.forms import CurrentPasswordForm, TotpConfirmForm
from portal.blueprints.settings.security import render_security
from portal.extensions import db
from portal.forms import ActionForm
from portal.services import reauth, second_factor
from portal.services.auth_methods import requires_method
from portal.services.permissions import requires
from portal.services.throttle import per_ip, per_user

throttled_ip = per_ip("RATELIMIT_REAUTH_PER_IP")  # current-password fields, as in General settings
throttled_account = per_user("RATELIMIT_REAUTH_PER_ACCOUNT")


@bp.route("/security/totp/begin", methods=["POST"])
@requires("self.account")
@requires_method("totp")
def totp_begin():
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        second_factor.begin_totp(current_user)
    except second_factor.SecondFactorError as error:
        flash(error.message, "error")
    db.session.commit()
    return redirect(url_for("settings.security", _anchor="two-factor"))


@bp.route("/security/totp/confirm", methods=["POST"])
@requires("self.account")
@requires_method("totp")
@throttled_ip
@throttled_account
def totp_confirm():
    form = TotpConfirmForm()
    if form.validate_on_submit():
        try:
            codes = second_factor.confirm_totp(current_user, form.current_password.data, form.code.data)
        except reauth.CurrentPasswordWrong as error:
            form.current_password.errors.append(error.message)
        except second_factor.SecondFactorError as error:
            form.code.errors.append(error.message)
        else:
            db.session.commit()
            return _with_codes(codes)
    return render_security(totp_form=form)


@bp.route("/security/sms/enable", methods=["POST"])
@requires("self.account")
@requires_method("sms_2fa")
@throttled_ip
@throttled_account
def sms_enable():
    return _password_step(second_factor.enable_sms)


@bp.route("/security/recovery-codes", methods=["POST"])
@requires("self.account")
@throttled_ip
@throttled_account
def recovery_codes():
    return _password_step(second_factor.regenerate_recovery_codes)


@bp.route("/security/2fa/<any(totp, sms):kind>/remove", methods=["POST"])
@requires("self.account")
@throttled_ip
@throttled_account
def remove_factor(kind):
    form = CurrentPasswordForm()
    if form.validate_on_submit():
        try:
            second_factor.remove_factor(current_user, kind, form.current_password.data)
        except (reauth.CurrentPasswordWrong, second_factor.SecondFactorError) as error:
            form.current_password.errors.append(error.message)
        else:
            db.session.commit()
            flash("The second factor was removed.", "success")
            return redirect(url_for("settings.security", _anchor="two-factor"))
    return render_security(password_form=form)


def _password_step(action):
    """Run `action(user, current password)`; show new recovery codes once, or the error."""
    form = CurrentPasswordForm()
    if form.validate_on_submit():
        try:
            codes = action(current_user, form.current_password.data)
        except (reauth.CurrentPasswordWrong, second_factor.SecondFactorError) as error:
            form.current_password.errors.append(error.message)
        else:
            db.session.commit()
            return _with_codes(codes)
    return render_security(password_form=form)


def _with_codes(codes: list[str]):
    """New recovery codes are shown once; a further second factor keeps the ones the user has."""
    if codes:
        return render_security(recovery_codes=codes)
    flash("The second factor is on. Your recovery codes stay as they were.", "success")
    return redirect(url_for("settings.security", _anchor="two-factor"))
