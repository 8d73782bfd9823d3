"""Views of password recovery: ask (/recover), the SMS code step, and the set-password page."""

from flask import flash, redirect, render_template, request, session, url_for

from portal.blueprints.auth import bp
from portal.blueprints.auth.forms import RecoverForm, RecoveryCodeForm, ResetPasswordForm
from portal.forms import ActionForm
from portal.services import captcha, password_policy, recovery
from portal.services.permissions import public
from portal.services.throttle import per_account, per_account_of, per_ip

TICKET = "recovery_ticket"


@bp.route("/recover", methods=["GET", "POST"])
@public
@per_ip("RATELIMIT_RECOVER_PER_IP")
@per_account("RATELIMIT_RECOVER_PER_ACCOUNT")
def recover():
    typed = request.form.get("login", "")
    form = captcha.protect(RecoverForm, captcha.needed_after_failures(typed))()
    channels = recovery.channels()
    if len(channels) == 1:
        form.channel.data = channels[0]
    if form.validate_on_submit():
        ticket = recovery.request_recovery(form.login.data, form.channel.data)
        if ticket is None:
            return render_template("auth/recover_sent.html")
        session[TICKET] = ticket
        return redirect(url_for("auth.recover_code"))
    return render_template("auth/recover.html", form=form, channels=channels)


@bp.route("/recover/code", methods=["GET", "POST"])
@public
@per_ip("RATELIMIT_RECOVERY_CODE_PER_IP")
@per_account_of("RATELIMIT_RECOVERY_CODE_PER_ACCOUNT", lambda: session.get(TICKET), methods=["POST"])
def recover_code():
    if TICKET not in session:
        return redirect(url_for("auth.recover"))
    form = captcha.protect(RecoveryCodeForm, captcha.needed_after_failures())()
    if form.validate_on_submit():
        try:
            token = recovery.check_code(session[TICKET], form.code.data)
        except recovery.RecoveryError as error:
            form.code.errors.append(error.message)
        else:
            session.pop(TICKET, None)
            return redirect(url_for("auth.recover_reset", token=token))
    return render_template("auth/recover_code.html", form=form, resend_form=ActionForm(),
                           by_email="email" in recovery.channels())


@bp.route("/recover/code/resend", methods=["POST"])
@public
@per_ip("RATELIMIT_RECOVER_PER_IP")
def recover_resend():
    if ActionForm().validate_on_submit() and TICKET in session:
        try:
            recovery.resend_code(session[TICKET])
        except recovery.RecoveryError as error:
            flash(error.message, "error")
        else:
            flash("If the account has a verified phone number, a new code is on its way.", "success")
    return redirect(url_for("auth.recover_code"))


@bp.route("/recover/reset/<token>", methods=["GET", "POST"])
@public
@per_ip("RATELIMIT_RECOVER_PER_IP")
def recover_reset(token):
    """The link only shows the form (mail scanners follow links); the POST sets the password."""
    try:
        user = recovery.link_owner(token)
    except recovery.RecoveryError as error:
        flash(error.message, "error")
        return redirect(url_for("auth.recover"))
    form = ResetPasswordForm(user)
    if form.validate_on_submit():
        try:
            recovery.reset_password(token, form.password.data)
        except password_policy.PasswordRejected as error:
            form.password.errors.append(error.message)
        except recovery.RecoveryError as error:
            flash(error.message, "error")
            return redirect(url_for("auth.recover"))
        else:
            flash("Your password was changed. Log in with the new one.", "success")
            return redirect(url_for("auth.login"))
    rules = password_policy.evaluate("", user.login, user.email, user.name, user.provider_id)
    return render_template("auth/recover_reset.html", form=form, token=token, rules=rules)
