"""Views of sign-in, sign-out, registration, the live password check and the ALTCHA challenge."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.blueprints.auth import bp
from portal.blueprints.auth.flow import complete_sign_in, home_for
from portal.blueprints.auth.forms import ConfirmRegistrationForm, LoginForm, RegisterForm
from portal.blueprints.gdpr.forms import consent_decisions, with_consents
from portal.extensions import db, limiter
from portal.forms import ActionForm
from portal.services import (
    auth_methods,
    captcha,
    password_policy,
    recovery,
    registration,
    sessions,
    signin,
)
from portal.services.delivery import DeliveryError
from portal.services.permissions import public, requires
from portal.services.throttle import per_account, per_account_of, per_ip
from portal.services.tokens import digest


@bp.route("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@public
@per_ip("RATELIMIT_LOGIN_PER_IP")
@per_account("RATELIMIT_LOGIN_PER_ACCOUNT", device_vouches=True)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_for(current_user))
    if request.method == "POST" and not auth_methods.enabled("web_login"):
        abort(403)
    typed = request.form.get("login", "")
    form = captcha.protect(LoginForm, captcha.needed_after_failures(typed))(
        next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            user = signin.check_password(form.login.data, form.password.data)
        except signin.SignInFailed as failure:
            if captcha.needed_after_failures(typed) and not captcha.protects(form):
                form = captcha.protect(LoginForm)()  # from now on this login asks for it
            form.password.errors = [*form.password.errors, failure.message]
        else:
            return complete_sign_in(user, form.remember.data, form.next.data)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@requires("self.account")
def logout():
    if ActionForm().validate_on_submit():
        sessions.log_out()
        db.session.commit()
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
@public
@auth_methods.requires_method("web_login")  # sign-up makes a password account: none while passwords are off
@per_ip("RATELIMIT_REGISTER_PER_IP")
def register():
    if current_user.is_authenticated and request.method == "GET":  # as /login: they have an account
        return redirect(home_for(current_user))
    form = captcha.protect(with_consents(RegisterForm))()
    if form.validate_on_submit():
        try:
            registration.request_registration(form.email.data, form.name.data, form.password.data,
                                              consents=consent_decisions(form))
        except password_policy.PasswordRejected as error:
            form.password.errors.append(error.message)
        except DeliveryError as error:
            form.email.errors.append(error.message)
        else:
            return render_template("auth/register_sent.html", email=form.email.data)
    return render_template("auth/register.html", form=form, rules=password_policy.evaluate(""))


@bp.route("/register/confirm/<token>")
@public
@auth_methods.requires_method("web_login")
def confirm_registration(token):
    """Show a button: the link itself changes nothing (mail scanners follow links)."""
    return _confirm_page(ConfirmRegistrationForm(), token)


@bp.route("/register/confirm/<token>", methods=["POST"])
@public
@auth_methods.requires_method("web_login")
@per_ip("RATELIMIT_LOGIN_PER_IP")  # from another browser it checks a password
@per_account_of("RATELIMIT_LOGIN_PER_ACCOUNT", lambda: "sign-up " + digest(request.view_args["token"]), ["POST"])
def confirm_registration_post(token):
    form = ConfirmRegistrationForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.confirm_registration", token=token))
    try:
        user = registration.confirm_registration(token, form.password.data)
    except registration.RegistrationPasswordWrong as error:
        form.password.errors.append(error.message)
        return _confirm_page(form, token), 422
    except registration.RegistrationLinkInvalid as error:
        flash(error.message, "error")
        return redirect(url_for("auth.register"))
    flash("Welcome! Your account is ready.", "success")
    return complete_sign_in(user, method="registration")


def _confirm_page(form, token: str):
    return render_template("auth/register_confirm.html", form=form, token=token,
                           needs_password=registration.needs_password(token))


@bp.route("/password/check", methods=["POST"])
@public
@per_ip("RATELIMIT_POLICY_CHECK_PER_IP")
def password_check():
    """htmx: the policy's rules, held or not, for what is typed (the server's own policy)."""
    facts = {key: request.form.get(key, "") for key in ("login", "email", "name")}
    if request.form.get("token"):
        try:
            owner = recovery.link_owner(request.form["token"])
        except recovery.RecoveryError:
            owner = None
    else:
        owner = current_user if current_user.is_authenticated else None
    if owner is not None:
        facts = {"login": owner.login, "email": owner.email, "name": owner.name,
                 "provider_id": owner.provider_id}
    facts["login"] = facts["login"] or facts["email"]
    rules = password_policy.evaluate(request.form.get("password", ""), **facts)
    return render_template("auth/_password_rules.html", rules=rules)


@bp.route("/captcha/altcha")
@public
@limiter.limit(lambda: current_app.config["RATELIMIT_CAPTCHA_PER_IP"])
def altcha_challenge():
    """A fresh signed ALTCHA challenge for the widget."""
    return captcha.new_challenge(), 200, {"Cache-Control": "no-store"}
