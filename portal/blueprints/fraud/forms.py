"""Forms of ordering, phone verification and the fraud protection settings."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TelField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from portal.services import phone_filter


class OrderForm(FlaskForm):
    submit = SubmitField("Order")


class PhoneForm(FlaskForm):
    phone = TelField("Phone number", validators=[DataRequired(), Length(max=32)])
    next = HiddenField()
    submit = SubmitField("Send code")


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=10)])
    next = HiddenField()
    submit = SubmitField("Verify")


class CountriesField(StringField):
    """A list of regions and calling codes typed as "GB, DE, +49"."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = phone_filter.parse_countries(valuelist[0])  # ValueError -> field error

    def _value(self):
        return ", ".join(self.data or [])


def regular_expression(form, field):
    try:
        field.data = phone_filter.check_pattern(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class ProtectionForm(FlaskForm):
    enabled = BooleanField("Verify phone numbers before orders")
    method = RadioField("Verification system", choices=[
        ("sms", "Vonage Verify by SMS"), ("voice", "Vonage Verify by voice call"),
        ("sms_voice", "SMS, then a voice call")])
    brand = StringField("Brand name", validators=[DataRequired(), Length(max=16)])
    code_length = IntegerField("Code length", validators=[InputRequired(), NumberRange(4, 10)])
    code_validity = IntegerField("Code validity, seconds", validators=[InputRequired(), NumberRange(60, 900)])
    max_attempts = IntegerField("Wrong tries allowed", validators=[InputRequired(), NumberRange(1, 10)])
    resend_cooldown = IntegerField("Resend cooldown, seconds",
                                   validators=[InputRequired(), NumberRange(10, 3600)])
    countries = CountriesField("Allowed countries")
    mobile_only = BooleanField("Mobile numbers only")
    pattern = StringField("Regular expression", validators=[regular_expression])
    reused_number = SelectField("Number verified by another account", choices=[
        ("refuse", "Refuse it"), ("flag", "Accept it and flag it to staff")])
    product_types = SelectMultipleField("Product types", coerce=int, choices=[])
    tariffs = SelectMultipleField("Tariffs", coerce=int, choices=[])
    submit = SubmitField("Save")
