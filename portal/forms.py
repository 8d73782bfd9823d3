"""Forms shared by every blueprint."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange

from portal.services import settings


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token travels."""


def setting_field(key: str):
    """The form field of a run-time setting, from its definition (`settings.define`): a choice,
    a switch or a number within its bounds."""
    setting = settings.definition(key)
    if setting.choices:
        return SelectField(setting.label, choices=list(setting.choices.items()))
    if isinstance(setting.default, bool):
        return BooleanField(setting.label)
    return IntegerField(setting.label, validators=[InputRequired(), NumberRange(*setting.bounds)])
