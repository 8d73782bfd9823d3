"""The second step of a sign-in: /login/2fa takes a TOTP, SMS or recovery code."""

from flask import flash, redirect, render_template, url_for
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from portal.blueprints.auth import bp
from portal.blueprints.auth.flow import complete_sign_in
from portal.forms import ActionForm, PortalForm
from portal.services import pending_signin, second_factor
from portal.services.errors import DomainError
from portal.services.permissions import public
from portal.services.throttle import per_account_of, per_ip


class CodeForm(PortalForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=64)])
    submit = SubmitField("Verify")


def _pending_account() -> str | None:
    data = pending_signin.pending()
    return f"2fa:{data['uid']}" if data else None


@bp.route("/login/2fa", methods=["GET", "POST"])
@public
@per_ip("RATELIMIT_2FA_PER_IP")
@per_account_of("RATELIMIT_2FA_PER_ACCOUNT", _pending_account, methods=["POST"])
def two_factor():
    user, data = pending_signin.pending_user(), pending_signin.pending()  # read once: it may expire meanwhile
    if user is None:
        pending_signin.drop()
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            kind = second_factor.verify_sign_in_code(user, form.code.data)
        except second_factor.SecondFactorError as error:
            form.code.errors.append(error.message)
        else:
            return complete_sign_in(user, data["remember"], data["next"], f"{data['method']}+{kind}",
                                    second_factor_passed=True)
    return render_template("auth/two_factor.html", form=form, kinds=second_factor.active_kinds(user),
                           send_form=ActionForm())


@bp.route("/login/2fa/sms", methods=["POST"])
@public
@per_ip("RATELIMIT_2FA_PER_IP")
@per_account_of("RATELIMIT_2FA_PER_ACCOUNT", _pending_account, methods=["POST"])
def two_factor_sms():
    user = pending_signin.pending_user()
    if user is None or not ActionForm().validate_on_submit() or "sms" not in second_factor.active_kinds(user):
        return redirect(url_for("auth.two_factor"))
    try:
        second_factor.send_sign_in_code(user)
    except DomainError as error:  # not sent: the daily cap, the provider, or an unverified number
        flash(error.message, "error")
    else:
        flash("We sent a code to your phone.", "success")
    return redirect(url_for("auth.two_factor"))
