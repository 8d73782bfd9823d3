"""Forms of the security settings: second factors and API tokens."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, NumberRange
from wtforms.widgets import CheckboxInput, ListWidget

from portal.services.api_tokens import MAX_DAYS


class CurrentPasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    submit = SubmitField("Confirm")


class TotpConfirmForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("Code", validators=[DataRequired(), Length(max=12)])
    submit = SubmitField("Verify")


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    days = IntegerField("Valid for (days)", default=90,
                        validators=[DataRequired(), NumberRange(min=1, max=MAX_DAYS)])
    scopes = SelectMultipleField("Scopes", widget=ListWidget(prefix_label=False),
                                 option_widget=CheckboxInput())
    submit = SubmitField("Create token")
