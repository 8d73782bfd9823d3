"""General settings → Consents: the user's decisions, optional ones given or withdrawn in one click."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.blueprints.settings import bp
from portal.extensions import db, htmx
from portal.forms import ActionForm
from portal.services import consent
from portal.services.permissions import requires


@bp.app_context_processor
def _consents_helper():
    return {"my_consents": lambda: _rows(current_user)}


@bp.route("/consents/<int:document_id>", methods=["POST"])
@requires("self.account")
def change_consent(document_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    error = None
    try:
        consent.change_optional(current_user, document_id, give=request.form.get("give") == "1")
        db.session.commit()
    except consent.ConsentError as refused:
        error = refused.message
    if htmx:
        return render_template("settings/_consents.html", error=error)
    if error:
        flash(error, "error")
    return redirect(url_for("settings.general"))


def _rows(user) -> list:
    """(document, version in force, the user's latest decision or None) per document."""
    in_force = consent.current_versions()
    latest = consent.latest_decisions(user) if in_force else {}
    return [(document, version, latest.get(document.id)) for document, version in in_force]
