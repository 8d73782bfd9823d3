"""General settings: the user's name and email, the password change, the data download, and the
expired-password page."""

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.settings import bp
from portal.blueprints.settings.forms import PasswordChangeForm, ProfileForm
from portal.forms import ActionForm
from portal.services import (
    data_export,
    password_change,
    password_expiry,
    password_policy,
    profile,
    reauth,
)
from portal.services.delivery import DeliveryError
from portal.services.permissions import public, requires
from portal.services.throttle import per_ip, per_user

bp.before_app_request(password_expiry.warn_if_due)


def _rules():
    return password_policy.evaluate("", current_user.login, current_user.email, current_user.name,
                                    current_user.provider_id)


def _page(profile_form=None, password_form=None):
    return render_template(
        "settings/general.html",
        profile_form=profile_form or ProfileForm(obj=current_user, formdata=None),
        password_form=password_form or PasswordChangeForm(formdata=None),
        rules=_rules(),
        pending_email=profile.pending_email(current_user),
    )


@bp.route("/general")
@requires("self.account")
def general():
    return _page()


@bp.route("/general", methods=["POST"])
@requires("self.account")
@per_ip("RATELIMIT_REAUTH_PER_IP")
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT")
def general_profile():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            saved = profile.update_profile(current_user, form.name.data, form.email.data,
                                           form.email_password.data)
        except reauth.CurrentPasswordWrong as error:
            form.email_password.errors.append(error.message)
        except (profile.EmailTaken, DeliveryError) as error:
            form.email.errors.append(error.message)
        else:
            if saved.confirm_sent_to:
                flash(f"We sent a link to {saved.confirm_sent_to}. Your email address changes when "
                      "you open it; until then it stays as it is.", "success")
            elif saved.changes:
                flash("Saved.", "success")
            else:
                flash("Nothing changed.", "info")
            return redirect(url_for("settings.general"))
    return _page(profile_form=form)


@bp.route("/email/confirm/<token>")
@public
def confirm_email(token):
    """Show a button: the link itself changes nothing (mail scanners follow links)."""
    return render_template("settings/confirm_email.html", form=ActionForm(), token=token)


@bp.route("/email/confirm/<token>", methods=["POST"])
@public
def confirm_email_post(token):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("settings.confirm_email", token=token))
    try:
        user = profile.confirm_email_change(token)
    except (profile.EmailLinkInvalid, profile.EmailTaken) as error:
        flash(error.message, "error")
        return render_template("settings/confirm_email.html", form=None, token=token), 400
    follows = " Sign in with it from now on: the old one no longer works." if user.login == user.email else ""
    flash(f"Your email address is now {user.email}.{follows}", "success")
    return redirect(url_for("settings.general") if current_user.is_authenticated else url_for("auth.login"))


def _change_password(form, done_endpoint: str):
    """Shared by General settings and the expired-password page: a redirect, or None with errors."""
    if not form.validate_on_submit():
        return None
    try:
        password_change.change_password(current_user._get_current_object(), form.current_password.data,
                                        form.password.data)
    except reauth.CurrentPasswordWrong as error:
        form.current_password.errors.append(error.message)
    except password_policy.PasswordRejected as error:
        form.password.errors.append(error.message)
    else:
        flash("Your password was changed. Every other session was signed out.", "success")
        return redirect(url_for(done_endpoint))
    return None


@bp.route("/general/password", methods=["POST"])
@requires("self.account")
@per_ip("RATELIMIT_REAUTH_PER_IP")
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT")
def general_password():
    form = PasswordChangeForm()
    return _change_password(form, "settings.general") or _page(password_form=form)


@bp.route("/data-export", methods=["POST"])
@requires("self.account")
@per_user("RATELIMIT_DATA_EXPORT_PER_USER")
def download_data():
    """Download my data: a POST, as writing its auth-log line changes state (no GET does)."""
    name, text = data_export.download(current_user._get_current_object())
    return Response(text, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/password", methods=["GET", "POST"])
@requires("self.account")
@per_ip("RATELIMIT_REAUTH_PER_IP")
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT")
def expired_password():
    """The only page a user whose password is too old can reach (the gate sends them here)."""
    if not password_expiry.is_expired(current_user):
        return redirect(url_for("settings.general"))
    form = PasswordChangeForm()
    done = _change_password(form, "auth.index")
    return done or render_template("settings/expired_password.html", form=form, rules=_rules())
