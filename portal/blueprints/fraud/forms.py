"""Forms of ordering, phone verification and the fraud protection settings."""

from flask import current_app
from wtforms import (
    HiddenField,
    RadioField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TelField,
)
from wtforms.validators import DataRequired, Length, ValidationError

from portal.forms import PortalForm, setting_field
from portal.services import fraud, phone_filter, settings, vonage_client


class OrderForm(PortalForm):
    submit = SubmitField("Order")


class PhoneForm(PortalForm):
    phone = TelField("Phone number", validators=[DataRequired(), Length(max=32)])
    next = HiddenField()
    submit = SubmitField("Send code")


class CodeForm(PortalForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=10)])
    next = HiddenField()
    submit = SubmitField("Verify")


class CountriesField(StringField):
    """A list of regions and calling codes typed as "GB, DE, +49"."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = phone_filter.parse_countries(valuelist[0])  # ValueError -> field error

    def _value(self):
        if self.process_errors and self.raw_data:  # not a list: show what was typed, to correct it
            return self.raw_data[0]
        return ", ".join(self.data or [])


def regular_expression(form, field):
    try:
        field.data = phone_filter.check_pattern(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def _label(key: str) -> str:
    return settings.definition(key).label


class ProtectionForm(PortalForm):
    """Labels, choices and ranges come from the settings' definitions in portal/services/fraud.py."""

    enabled = setting_field(fraud.ENABLED)
    method = RadioField(_label(fraud.METHOD), choices=list(settings.definition(fraud.METHOD).choices.items()))
    brand = StringField(_label(fraud.BRAND), validators=[DataRequired(), Length(max=16)])
    code_length = setting_field(fraud.CODE_LENGTH)
    code_validity = setting_field(fraud.CODE_VALIDITY)
    max_attempts = setting_field(fraud.MAX_ATTEMPTS)
    resend_cooldown = setting_field(fraud.RESEND_COOLDOWN)
    countries = CountriesField(_label(fraud.COUNTRIES))
    mobile_only = setting_field(fraud.MOBILE_ONLY)
    line_type_lookup = setting_field(fraud.LINE_TYPE_LOOKUP)
    pattern = StringField(_label(fraud.PATTERN), validators=[regular_expression])
    reused_number = setting_field(fraud.REUSED_NUMBER)
    product_types = SelectMultipleField("Product types", coerce=int, choices=[])
    tariffs = SelectMultipleField("Tariffs", coerce=int, choices=[])
    submit = SubmitField("Save")

    def validate_line_type_lookup(self, field):
        if field.data and not self.mobile_only.data:
            raise ValidationError("This check works only with “Mobile numbers only”: tick both, or neither.")
        if field.data and not vonage_client.configured(current_app.config):
            raise ValidationError("Vonage is not configured on this server (VONAGE_API_KEY and "
                                  "VONAGE_API_SECRET in the portal's configuration).")
