"""Forms of the GDPR area, and the consent checkboxes added to sign-up forms."""

from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from portal.blueprints.settings.forms import CurrentPasswordForm
from portal.forms import PortalForm
from portal.services import consent
from portal.services.compliance import TRANSFER_BASES
from portal.services.retention import MAX_DAYS


class DocumentForm(PortalForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    required = BooleanField("Required")
    submit = SubmitField("Add document")


class VersionForm(PortalForm):
    text = TextAreaField("Text", validators=[DataRequired(), Length(max=200_000)])
    effective = DateField("Effective date", validators=[InputRequired()])
    submit = SubmitField("Publish version")


class ClearDataForm(CurrentPasswordForm):
    client_name = StringField("Client name", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Clear data")


class RetentionForm(PortalForm):
    days = IntegerField("Auth log retention (days)",
                        validators=[InputRequired(), NumberRange(min=0, max=MAX_DAYS)])
    submit = SubmitField("Save")


class TransferBasisForm(PortalForm):
    basis = SelectField("Transfer basis", choices=[("", "Not recorded")] + [(b, b) for b in TRANSFER_BASES])
    submit = SubmitField("Save")


def with_consents(form_class: type[PortalForm]) -> type[PortalForm]:
    """`form_class` plus a checkbox per document in force; required ones must be ticked."""
    fields, versions = {}, {}
    for document, version in consent.current_versions():
        name = f"consent_{version.id}"
        message = f"You need to accept the {document.title} to register."
        fields[name] = BooleanField(document.title,
                                    validators=[DataRequired(message)] if document.required else [])
        versions[name] = (document, version)
    return type(form_class.__name__, (form_class,), {**fields, "consent_versions": versions})


def consent_decisions(form: PortalForm) -> dict[int, bool]:
    """{consent version id: ticked?} from a form built by `with_consents`."""
    return {version.id: bool(form[name].data)
            for name, (_document, version) in getattr(form, "consent_versions", {}).items()}
