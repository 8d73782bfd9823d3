"""Reset two-factor: staff turn off the second factors of a client user or an administrator who lost them."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.admin import bp
from portal.blueprints.settings.forms import CurrentPasswordForm
from portal.extensions import db
from portal.services import access, factor_reset, reauth, rights
from portal.services.permissions import has_function, requires
from portal.services.throttle import per_ip, per_user


@bp.route("/users/<int:user_id>/two-factor", methods=["GET", "POST"])
@requires("users.reset_2fa")
@per_ip("RATELIMIT_REAUTH_PER_IP")
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT")
def reset_user_two_factor(user_id):
    target = rights.client_user_for(current_user, user_id) or abort(404)
    back = (url_for("admin.client_card", client_id=target.client_id) if has_function(current_user, "clients.view")
            else url_for("admin.users") if has_function(current_user, "users.view") else url_for("admin.dashboard"))
    return _confirm_reset(target, rights.shown_as(current_user, target), back)


@bp.route("/administrators/<int:user_id>/two-factor", methods=["GET", "POST"])
@requires("admins.manage")
@per_ip("RATELIMIT_REAUTH_PER_IP")
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT")
def reset_administrator_two_factor(user_id):
    target = access.get_admin(user_id) or abort(404)
    if target.id == current_user.id or not access.can_manage(current_user, target):
        abort(403)  # one's own factors change in Security settings, with the current password
    return _confirm_reset(target, target.login, url_for("admin.edit_administrator", user_id=target.id))


def _confirm_reset(target, shown: str, back: str):
    """GET asks first (who, which factors, what follows); POST, with the staff member's own
    password, resets and returns to `back`."""
    form = CurrentPasswordForm()
    if form.validate_on_submit():
        try:
            removed = factor_reset.reset_by_staff(current_user, target, form.current_password.data)
        except reauth.CurrentPasswordWrong as error:
            form.current_password.errors.append(error.message)
        else:
            db.session.commit()
            if removed:
                flash(f"Two-factor authentication of {shown} is off; they were told by email.", "success")
            else:
                flash(f"{shown} has no second factor.", "info")
            return redirect(back)
    return render_template("admin/reset_two_factor.html", target=target, shown=shown, form=form, back=back,
                           factors=[factor_reset.KIND_NAMES[kind] for kind in factor_reset.factors_of(target)]
                           ), 422 if form.errors else 200
