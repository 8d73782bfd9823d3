"""Forms of the user's own settings: profile, password, phone, second factors and API tokens."""

from flask_login import current_user
from wtforms import (
    EmailField,
    IntegerField,
    PasswordField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TelField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import PortalForm, check_new_password
from portal.services.api_tokens import MAX_DAYS
from portal.services.password_policy import HARD_MAX_LENGTH


class ProfileForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    email_password = PasswordField("Your password (for a new address)",
                                   validators=[Optional(), Length(max=HARD_MAX_LENGTH)])
    submit = SubmitField("Save")


class PhoneChangeForm(PortalForm):
    phone = TelField("Phone number", validators=[Optional(), Length(max=32)])
    # Its own id and label: General settings also shows the password form's "Current password".
    current_password = PasswordField("Your password (for a new number)", id="phone_current_password",
                                     validators=[DataRequired(), Length(max=HARD_MAX_LENGTH)])
    submit = SubmitField("Save")


class PasswordChangeForm(PortalForm):
    """The signed-in user's new password (General settings, the expired-password page)."""

    current_password = PasswordField("Current password",
                                     validators=[DataRequired(), Length(max=HARD_MAX_LENGTH)])
    password = PasswordField("New password", validators=[DataRequired(), Length(max=HARD_MAX_LENGTH)])
    confirm = PasswordField(
        "Confirm new password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    submit = SubmitField("Save")

    def validate_password(self, field):
        check_new_password(field, current_user.login, current_user.email, current_user.name,
                           current_user.provider_id)


class CurrentPasswordForm(PortalForm):
    current_password = PasswordField("Current password",
                                     validators=[DataRequired(), Length(max=HARD_MAX_LENGTH)])
    submit = SubmitField("Confirm")


class TotpConfirmForm(PortalForm):
    current_password = PasswordField("Current password",
                                     validators=[DataRequired(), Length(max=HARD_MAX_LENGTH)])
    code = StringField("Code", validators=[DataRequired(), Length(max=12)])
    submit = SubmitField("Verify")


class LinkAccountForm(PortalForm):
    # Its own label: the Security page also shows the second factors' "Current password".
    link_password = PasswordField("Your password (to link an account)",
                                  validators=[DataRequired(), Length(max=HARD_MAX_LENGTH)])
    submit = SubmitField("Link")


class TokenForm(PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    days = IntegerField("Valid for (days)", default=90,
                        validators=[InputRequired(), NumberRange(min=1, max=MAX_DAYS)])  # 0 is out of range, not missing
    scopes = SelectMultipleField("Scopes", widget=ListWidget(prefix_label=False),
                                 option_widget=CheckboxInput())
    # Its own label: the Security page also shows the second factors' "Current password".
    token_password = PasswordField("Your password (to create a token)",
                                   validators=[DataRequired(), Length(max=HARD_MAX_LENGTH)])
    submit = SubmitField("Create token")
