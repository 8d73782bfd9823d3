"""Linked Google or Keycloak sign-ins in /settings/security: link and unlink, the current password first."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.settings import bp
from portal.blueprints.settings.forms import CurrentPasswordForm, LinkAccountForm
from portal.blueprints.settings.security import render_security
from portal.extensions import db
from portal.services import oauth_links, oauth_signin
from portal.services.errors import DomainError
from portal.services.permissions import requires
from portal.services.throttle import per_ip, per_user


@bp.route("/security/linked/<any(google, keycloak):provider>", methods=["POST"])
@requires("self.account")
@per_ip("RATELIMIT_REAUTH_PER_IP")  # a current-password field, as in General settings
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT")
def link_account(provider):
    form = LinkAccountForm()
    if form.validate_on_submit():
        try:
            oauth_links.begin(current_user, provider, form.link_password.data)
        except DomainError as refusal:  # a wrong password, or no link possible for this account
            form.link_password.errors.append(refusal.message)
        else:  # a page, not a redirect: the CSP's form-action would stop a form's redirects at the provider
            return render_template("settings/link_continue.html", provider_name=oauth_signin.PROVIDERS[provider],
                                   url=url_for("auth.oauth_start", provider=provider))
    return render_security(link_form=form)


@bp.route("/security/linked/<int:link_id>/unlink", methods=["POST"])
@requires("self.account")
@per_ip("RATELIMIT_REAUTH_PER_IP")
@per_user("RATELIMIT_REAUTH_PER_ACCOUNT")
def unlink_account(link_id):
    form = CurrentPasswordForm()
    if form.validate_on_submit():
        try:
            removed = oauth_links.unlink(current_user, link_id, form.current_password.data)
        except DomainError as refusal:  # a wrong password, or an account without one
            form.current_password.errors.append(refusal.message)
        else:
            if not removed:
                abort(404)
            db.session.commit()
            flash("The linked sign-in was removed.", "success")
            return redirect(url_for("settings.security", _anchor="linked-accounts"))
    return render_security(unlink_form=form)
