"""The phone numbers' filter: parse and validate with phonenumbers, then country, mobile and regex rules;
the line type a carrier lookup gives where the digits cannot tell mobile from landline."""


import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder

from portal.services.errors import DomainError

MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
NOT_MOBILE = "Only mobile numbers are accepted. Enter a mobile number."
MAX_PATTERN = 200


@dataclass(frozen=True)
class PhoneRules:
    """Allowed countries (ISO regions like "GB" or calling codes like "+44"; empty = all),
    mobile numbers only, an optional regular expression searched in the E.164 digits, and whether
    "mobile only" asks the carrier's data where the digits cannot tell (`needs_line_type`)."""

    countries: tuple[str, ...] = ()
    mobile_only: bool = False
    pattern: str = ""
    line_type_lookup: bool = False


class PhoneRefused(DomainError):
    """A number the filter does not accept; `reason` is stable, `message` is safe to show."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def parse(raw: str) -> phonenumbers.PhoneNumber:
    """A valid number written in international form (+ and the country code); else PhoneRefused."""
    text = (raw or "").strip()
    if not text.startswith(("+", "00")):
        raise PhoneRefused("malformed", "Enter the number in international form, e.g. +44 7400 123456.")
    try:
        number = phonenumbers.parse("+" + text[2:] if text.startswith("00") else text, None)
    except phonenumbers.NumberParseException:
        raise PhoneRefused("malformed", "This does not look like a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneRefused("invalid", "This phone number does not exist. Check the digits.")
    return number


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.region_code_for_number(number) or ""


def check(raw: str, rules: PhoneRules) -> phonenumbers.PhoneNumber:
    """The parsed number if the rules accept it; else PhoneRefused with the reason."""
    number = parse(raw)
    region = region_of(number)
    if rules.countries and region not in rules.countries and f"+{number.country_code}" not in rules.countries:
        country = geocoder.country_name_for_number(number, "en") or region or f"+{number.country_code}"
        raise PhoneRefused("country", f"Numbers from {country} are not accepted.")
    if rules.mobile_only and phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise PhoneRefused("not_mobile", NOT_MOBILE)
    digits = re.sub(r"\D", "", e164(number))
    if rules.pattern and not re.search(rules.pattern, digits):
        raise PhoneRefused("pattern", "This number is not accepted. Please use another number.")
    return number


def needs_line_type(number: phonenumbers.PhoneNumber, rules: PhoneRules) -> bool:
    """True when "mobile only" must look the number up: its digits fit mobile and landline alike
    (the US, Canada and other +1 regions), so `check` could not tell. A valid number is never of
    UNKNOWN type, so no other type is undecided."""
    return (rules.mobile_only and rules.line_type_lookup
            and phonenumbers.number_type(number) == PhoneNumberType.FIXED_LINE_OR_MOBILE)


def check_line_type(network_type: str) -> None:
    """Accept a number the carrier's data calls "mobile"; PhoneRefused("not_mobile") for any other
    (landline, premium, toll-free, virtual, pager, unknown)."""
    if network_type != "mobile":
        raise PhoneRefused("not_mobile", NOT_MOBILE)


def parse_countries(text: str) -> list[str]:
    """Staff's list "GB, de, +49" as ["GB", "DE", "+49"]; ValueError names an unknown entry."""
    result = []
    for item in re.split(r"[\s,;]+", (text or "").strip()):
        if not item:
            continue
        entry = item.upper()
        if entry.startswith("+") and entry[1:].isascii() and entry[1:].isdigit():
            known = int(entry[1:]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        else:
            known = entry in phonenumbers.SUPPORTED_REGIONS
        if not known:
            raise ValueError(f"{item} is neither a country code (GB) nor a calling code (+44).")
        if entry not in result:
            result.append(entry)
    return result


def check_pattern(pattern: str) -> str:
    """A regular expression staff may store; ValueError with the reason otherwise."""
    pattern = (pattern or "").strip()
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"Use at most {MAX_PATTERN} characters.")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"This is not a valid regular expression: {error}.") from None
    return pattern
