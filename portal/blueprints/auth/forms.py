"""Forms of the sign-in pages."""

from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from portal.forms import PortalForm, check_new_password
from portal.models import User
from portal.services.identifiers import fold
from portal.services.password_policy import HARD_MAX_LENGTH

MAX_PASSWORD = HARD_MAX_LENGTH  # generous; argon2 hashes every byte, nothing is truncated


class LoginForm(PortalForm):
    login = StringField("Login", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    remember = BooleanField("Remember me")
    next = HiddenField()
    submit = SubmitField("Log in")


class RegisterForm(PortalForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    confirm = PasswordField(
        "Confirm password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    submit = SubmitField("Register")

    def validate_password(self, field):
        email = fold(self.email.data)
        check_new_password(field, email, email, self.name.data or "")


class ConfirmRegistrationForm(PortalForm):
    password = PasswordField("Password", validators=[Optional(), Length(max=MAX_PASSWORD)])
    submit = SubmitField("Confirm my account")


class RecoverForm(PortalForm):
    login = StringField("Login or email", validators=[DataRequired(), Length(max=254)])
    channel = RadioField("Send me", choices=[("email", "A link by email"), ("sms", "A code by SMS")],
                         default="email")
    submit = SubmitField("Send")


class RecoveryCodeForm(PortalForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=12)])
    submit = SubmitField("Verify")


class ResetPasswordForm(PortalForm):
    """The new password of `owner`, the user the link was sent to."""

    password = PasswordField("New password", validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    confirm = PasswordField(
        "Confirm new password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    submit = SubmitField("Save")

    def __init__(self, owner: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def validate_password(self, field):
        check_new_password(field, self.owner.login, self.owner.email, self.owner.name,
                           self.owner.provider_id)
