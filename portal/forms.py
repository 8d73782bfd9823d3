"""Forms shared by every blueprint."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from portal.services import settings
from portal.services.password_policy import first_broken

UNNAMED_FIELDS = {"CSRFTokenField", "SubmitField"}  # every form has one: rendered without an id


class PortalForm(FlaskForm):
    """The base of every form. Its CSRF field and buttons carry no id: a page of several forms
    repeats none (a label finds its field by id)."""

    class Meta:
        def render_field(self, field, render_kw):
            if field.type in UNNAMED_FIELDS:
                render_kw = {"id": False, **render_kw}
            return super().render_field(field, render_kw)


class ActionForm(PortalForm):
    """A button that changes state: only the CSRF token travels."""


class ClientForm(PortalForm):
    """A client's name: edited by staff on the client card, and by the client's own users."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Save")


def setting_field(key: str):
    """The form field of a run-time setting, from its definition (`settings.define`): a choice,
    a switch or a number within its bounds."""
    setting = settings.definition(key)
    if setting.choices:
        return SelectField(setting.label, choices=list(setting.choices.items()))
    if isinstance(setting.default, bool):
        return BooleanField(setting.label)
    return IntegerField(setting.label, validators=[InputRequired(), NumberRange(*setting.bounds)])


def check_new_password(field, login: str, email: str, name: str, provider_id: int | None = None) -> None:
    """A new password's inline check (`validate_password`): the policy's first broken rule beside
    the field, shown together with the other fields' errors (the service enforces it again)."""
    broken = first_broken(field.data or "", login, email, name, provider_id)
    if broken:
        raise ValidationError(broken)
