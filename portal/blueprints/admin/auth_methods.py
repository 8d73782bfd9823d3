"""Methods of registration and authorization: switches per provider and the Keycloak role mapping."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import BooleanField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from portal.blueprints.admin import bp
from portal.extensions import db
from portal.forms import ActionForm, PortalForm
from portal.services import access, auth_methods
from portal.services.permissions import requires
from portal.services.registration import default_provider


class MethodsForm(PortalForm):
    staff_2fa_required = BooleanField("Staff must use two-factor authentication")
    submit = SubmitField("Save")


for _method in auth_methods.METHODS:
    setattr(MethodsForm, _method.name, BooleanField(_method.label))


class RoleMappingForm(PortalForm):
    role = StringField("Keycloak role", validators=[DataRequired(), Length(max=255)])
    full_access = BooleanField("Full access")
    access_group = SelectField("Access group", choices=[], default="")
    submit = SubmitField("Add mapping")


@bp.route("/providers/auth-methods")
@requires("settings.methods")
def auth_methods_default():
    return redirect(url_for("admin.auth_methods_page", provider_id=default_provider().id))


@bp.route("/providers/<int:provider_id>/auth-methods", methods=["GET", "POST"])
@requires("settings.methods")
def auth_methods_page(provider_id):
    provider = _provider_or_404(provider_id)
    form = MethodsForm(data=auth_methods.current_values(provider_id))
    if form.validate_on_submit():
        values = {name: field.data for name, field in form._fields.items() if isinstance(field, BooleanField)}
        try:
            auth_methods.save_switches(provider_id, values)
        except auth_methods.MethodsRefused as refusal:
            form.form_errors.append(refusal.message)
        else:
            db.session.commit()
            flash("Sign-in methods saved.", "success")
            return redirect(url_for("admin.auth_methods_page", provider_id=provider_id))
    return _render(provider, form, _role_form(formdata=None))


@bp.route("/providers/<int:provider_id>/auth-methods/roles", methods=["POST"])
@requires("settings.methods")
def add_role_mapping(provider_id):
    provider = _provider_or_404(provider_id)
    role_form = _role_form()
    if role_form.validate_on_submit():
        group_id = int(role_form.access_group.data) if role_form.access_group.data else None
        try:
            auth_methods.add_role_mapping(provider_id, role_form.role.data, role_form.full_access.data,
                                          group_id, current_user)
        except auth_methods.MethodsRefused as refusal:
            role_form[refusal.field or "access_group"].errors.append(refusal.message)
        else:
            db.session.commit()
            flash("Role mapping added.", "success")
            return redirect(url_for("admin.auth_methods_page", provider_id=provider_id))
    form = MethodsForm(formdata=None, data=auth_methods.current_values(provider_id))
    return _render(provider, form, role_form), 422


@bp.route("/providers/<int:provider_id>/auth-methods/roles/<int:mapping_id>/delete", methods=["POST"])
@requires("settings.methods")
def remove_role_mapping(provider_id, mapping_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        removed = auth_methods.remove_role_mapping(provider_id, mapping_id, current_user)
    except auth_methods.MethodsRefused as refusal:
        flash(refusal.message, "error")
        return redirect(url_for("admin.auth_methods_page", provider_id=provider_id))
    if not removed:
        abort(404)
    db.session.commit()
    flash("Role mapping removed.", "success")
    return redirect(url_for("admin.auth_methods_page", provider_id=provider_id))


def _role_form(**kwargs) -> RoleMappingForm:
    role_form = RoleMappingForm(**kwargs)
    role_form.access_group.choices = [("", "None")] + [(str(group.id), group.name) for group in access.groups()]
    return role_form


def _provider_or_404(provider_id: int):
    provider = auth_methods.get_provider(provider_id)
    if provider is None:
        abort(404)
    return provider


def _render(provider, form, role_form):
    return render_template(
        "admin/auth_methods.html", provider=provider, form=form, role_form=role_form,
        methods=auth_methods.METHODS, configured={m.name: auth_methods.configured(m.name) for m in auth_methods.METHODS},
        mappings=auth_methods.role_mappings(provider.id), action_form=ActionForm(),
    )
