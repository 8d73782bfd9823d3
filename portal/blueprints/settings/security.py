"""Security settings: active sessions, second factors, linked sign-ins and API tokens of the signed-in user."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.settings import bp
from portal.blueprints.settings.forms import (
    CurrentPasswordForm,
    LinkAccountForm,
    TokenForm,
    TotpConfirmForm,
)
from portal.extensions import db, htmx
from portal.forms import ActionForm
from portal.services import (
    api_tokens,
    auth_methods,
    oauth_links,
    oauth_signin,
    second_factor,
    sessions,
)
from portal.services.permissions import FUNCTIONS, requires
from portal.wording import counted


@bp.route("/security")
@requires("self.account")
def security():
    return render_security()


def render_security(**overrides):
    """The whole page; a step of one section passes its own forms (with errors) or one-time secrets."""
    user = current_user._get_current_object()
    factor = second_factor.pending_totp(user)
    token_form = TokenForm(formdata=None)
    token_form.scopes.choices = scope_choices(user)
    context = {
        **_sessions_context(),
        "kinds": second_factor.active_kinds(user),
        "totp_on": auth_methods.enabled("totp", user.provider_id),
        "sms_on": auth_methods.enabled("sms_2fa", user.provider_id),
        "api_on": auth_methods.enabled("api", user.provider_id),
        "must_enrol": second_factor.staff_must_enrol(user),
        "pending_totp": factor,
        "totp_qr": second_factor.totp_qr_svg(user, factor) if factor else None,
        "totp_secret": second_factor.totp_secret(factor) if factor else None,
        "recovery_left": second_factor.remaining_recovery_codes(user),
        "password_form": CurrentPasswordForm(formdata=None),
        "totp_form": TotpConfirmForm(formdata=None),
        "token_form": token_form,
        "tokens": api_tokens.tokens_of(user),
        "links": oauth_links.links_of(user),
        "oauth_providers": oauth_signin.PROVIDERS,
        "link_provider": oauth_links.provider_for(user) if oauth_links.can_link(user) else None,
        "link_form": LinkAccountForm(formdata=None),
        "unlink_form": CurrentPasswordForm(formdata=None),
        "recovery_codes": None,
        "new_token": None,
    }
    context.update(overrides)
    return render_template("settings/security.html", **context)


def scope_choices(user) -> list[tuple[str, str]]:
    return [(code, f"{FUNCTIONS[code].label} ({code})") for code in api_tokens.grantable_scopes(user)]


@bp.route("/security/sessions/<int:session_id>/end", methods=["POST"])
@requires("self.account")
def end_session(session_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    if not sessions.end_session_of(current_user, session_id):
        abort(404)
    db.session.commit()
    return _sessions_fragment_or_page()


@bp.route("/security/sessions/end-others", methods=["POST"])
@requires("self.account")
def end_other_sessions():
    if not ActionForm().validate_on_submit():
        abort(400)
    ended, tokens = sessions.sign_out_everywhere_else(current_user, keep=sessions.current_session())
    db.session.commit()
    flash(f"Signed out everywhere else: {counted(ended, 'other session')} ended, "
          f"{counted(tokens, 'API token')} revoked.", "success")
    return redirect(url_for("settings.security"))  # the whole page: its token list changed too


def _sessions_fragment_or_page():
    if htmx:
        return render_template("settings/_sessions.html", **_sessions_context())
    return redirect(url_for("settings.security"))


def _sessions_context() -> dict:
    return {"user_sessions": sessions.active_sessions(current_user),
            "this_session": sessions.current_session(), "action_form": ActionForm()}

