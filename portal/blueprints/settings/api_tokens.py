"""API tokens in /settings/security: create (shown once), list, revoke."""

from flask import abort, flash, redirect, url_for
from flask_login import current_user

from portal.blueprints.settings import bp
from portal.blueprints.settings.forms import TokenForm
from portal.blueprints.settings.security import render_security, scope_choices
from portal.extensions import db
from portal.forms import ActionForm
from portal.services import api_tokens, reauth
from portal.services.auth_methods import requires_method
from portal.services.permissions import requires
from portal.services.throttle import per_ip, per_user


@bp.route("/security/api-tokens", methods=["POST"])
@requires("self.account")
@requires_method("api")
@per_ip("RATELIMIT_REAUTH_PER_IP")
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT")
def create_api_token():
    form = TokenForm()
    form.scopes.choices = scope_choices(current_user)
    if form.validate_on_submit():
        try:
            row, secret = api_tokens.create_token(current_user, form.name.data, form.days.data, form.scopes.data,
                                                  form.token_password.data)
        except reauth.CurrentPasswordWrong as error:
            form.token_password.errors.append(error.message)
        except api_tokens.TokenRefused as refusal:
            form.scopes.errors.append(refusal.message)
        else:
            db.session.commit()
            return render_security(new_token={"name": row.name, "secret": secret})
    return render_security(token_form=form)


@bp.route("/security/api-tokens/<int:token_id>/revoke", methods=["POST"])
@requires("self.account")
def revoke_api_token(token_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    if not api_tokens.revoke_token(current_user, token_id):
        abort(404)
    db.session.commit()
    flash("The token was revoked.", "success")
    return redirect(url_for("settings.security", _anchor="api-tokens"))
