"""Consent documents (/admin/consent), the consent gate's accept page, and public reading."""

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.blueprints.auth.flow import home_for
from portal.blueprints.gdpr import bp
from portal.blueprints.gdpr.forms import DocumentForm, VersionForm
from portal.extensions import db
from portal.forms import ActionForm
from portal.models.compliance import ConsentDocument
from portal.services import consent
from portal.services.listing import parse_id
from portal.services.permissions import public, requires


@bp.route("/admin/consent")
@requires("settings.consent")
def consent_documents():
    return _documents_page()


@bp.route("/admin/consent/documents", methods=["POST"])
@requires("settings.consent")
def create_document():
    form = DocumentForm()
    if form.validate_on_submit():
        try:
            consent.create_document(form.title.data, form.required.data)
        except consent.ConsentError as error:
            form.title.errors.append(error.message)
        else:
            db.session.commit()
            flash(f"{form.title.data.strip()} added; publish its first version below.", "success")
            return redirect(url_for("gdpr.consent_documents"))
    return _documents_page(document_form=form), 422


@bp.route("/admin/consent/documents/<int:document_id>/versions", methods=["POST"])
@requires("settings.consent")
def publish_version(document_id):
    document = db.get_or_404(ConsentDocument, document_id)
    form = VersionForm(prefix=f"doc{document.id}")
    if form.validate_on_submit():
        effective = datetime.combine(form.effective.data, datetime.min.time(), tzinfo=UTC)
        try:
            version = consent.publish_version(document, form.text.data, effective)
        except consent.ConsentError as error:
            form[error.field or "effective"].errors.append(error.message)
        else:
            db.session.commit()
            flash(f"{document.title} version {version.number} published, "
                  f"in force from {effective:%Y-%m-%d}.", "success")
            return redirect(url_for("gdpr.consent_documents"))
    return _documents_page(version_forms={document.id: form}), 422


@bp.route("/admin/consent/documents/<int:document_id>/required", methods=["POST"])
@requires("settings.consent")
def toggle_required(document_id):
    document = db.get_or_404(ConsentDocument, document_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    consent.set_required(document, not document.required)
    db.session.commit()
    return redirect(url_for("gdpr.consent_documents"))


def _documents_page(document_form=None, version_forms=None):
    documents = consent.documents()
    forms = {d.id: VersionForm(prefix=f"doc{d.id}", formdata=None,
                               effective=datetime.now(UTC).date()) for d in documents}
    forms.update(version_forms or {})
    log = consent.recent_records()
    return render_template(
        "gdpr/consent_documents.html", documents=documents, current=consent.current_version,
        document_form=document_form or DocumentForm(formdata=None), version_forms=forms,
        action_form=ActionForm(), log=log,
    )


@bp.route("/consent/accept", methods=["GET", "POST"])
@requires("self.account")
def accept_consents():
    """The consent gate: the new versions of required documents, accepted with one button."""
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        versions = {parse_id(value) for value in request.form.getlist("version")} - {None}
        consent.accept_required(current_user, versions)
        db.session.commit()
        return redirect(home_for(current_user))
    missing = consent.missing_required(current_user)
    if not missing:
        return redirect(home_for(current_user))
    return render_template("gdpr/accept.html", missing=missing, form=form)


@bp.route("/consent/documents/<int:document_id>")
@public
def read_document(document_id):
    document = db.get_or_404(ConsentDocument, document_id)
    version = consent.current_version(document)
    if version is None:
        abort(404)
    return render_template("gdpr/document.html", document=document, version=version)
