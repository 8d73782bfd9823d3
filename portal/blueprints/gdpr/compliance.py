"""The compliance page, the auth-log retention form and the data-transfer bases."""

from flask import abort, current_app, flash, redirect, render_template, url_for

from portal.blueprints.gdpr import bp
from portal.blueprints.gdpr.forms import RetentionForm, TransferBasisForm
from portal.extensions import db, htmx
from portal.services import compliance as answers_service
from portal.services import retention
from portal.services.permissions import requires


@bp.route("/admin/compliance")
@requires("settings.consent")
def compliance():
    return _page()


@bp.route("/admin/compliance/transfer-basis/<key>", methods=["POST"])
@requires("settings.consent")
def transfer_basis(key):
    if key not in {party.key for party in answers_service.THIRD_PARTIES}:
        abort(404)
    form = TransferBasisForm(prefix=key)
    if not form.validate_on_submit():
        return _page(), 422
    answers_service.record_transfer_basis(key, form.basis.data)
    db.session.commit()
    flash("Transfer basis saved.", "success")
    return redirect(url_for("gdpr.compliance") + "#transfers")


@bp.route("/admin/settings/security/retention", methods=["POST"])
@requires("settings.security")
def retention_settings():
    """The retention form's own route; the form is a partial on Global settings → Security. A
    refused value comes back with its error: in the partial (htmx), else on a page of its own."""
    form = RetentionForm()
    if not form.validate_on_submit():
        template = "gdpr/_retention_form.html" if htmx else "gdpr/retention.html"
        return render_template(template, form=form, saved=False), 422
    retention.set_period(form.days.data)
    db.session.commit()
    if htmx:
        return render_template("gdpr/_retention_form.html", form=form, saved=True)
    flash("Retention period saved.", "success")
    return redirect(url_for("admin.security_settings"))


def _page():
    forms = {party.key: TransferBasisForm(prefix=party.key, formdata=None, basis=basis)
             for party, _enabled, basis in answers_service.transfer_bases()}
    return render_template(
        "gdpr/compliance.html", answers=answers_service.answers(), transfers=answers_service.transfer_bases(),
        basis_forms=forms, view_functions=current_app.view_functions,
    )
