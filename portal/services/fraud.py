"""Fraud protection: its settings, the services covered by phone verification, the order check."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import PhoneVerification, ProductType, Tariff, User
from portal.services import settings
from portal.services.events import log_audit
from portal.services.phone_filter import PhoneRules

ENABLED = settings.define("fraud.enabled", False, "Verify phone numbers before orders")
METHOD = settings.define("fraud.method", "sms", "Verification system", choices={
    "sms": "Vonage Verify by SMS", "voice": "Vonage Verify by voice call", "sms_voice": "SMS, then a voice call"})
BRAND = settings.define("fraud.brand", "Portal", "Brand name")
CODE_LENGTH = settings.define("fraud.code_length", 6, "Code length", bounds=(4, 10))
CODE_VALIDITY = settings.define("fraud.code_validity", 300, "Code validity, seconds", bounds=(60, 900))
MAX_ATTEMPTS = settings.define("fraud.max_attempts", 3, "Wrong tries allowed", bounds=(1, 10))
RESEND_COOLDOWN = settings.define("fraud.resend_cooldown", 60, "Resend cooldown, seconds", bounds=(10, 3600))
COUNTRIES = settings.define("fraud.countries", [], "Allowed countries")
MOBILE_ONLY = settings.define("fraud.mobile_only", True, "Mobile numbers only")
LINE_TYPE_LOOKUP = settings.define("fraud.line_type_lookup", False, "Check the line type with Vonage Number Insight")
PATTERN = settings.define("fraud.pattern", "", "Regular expression")
REUSED_NUMBER = settings.define("fraud.reused_number", "refuse", "Number verified by another account",
                                choices={"refuse": "Refuse it", "flag": "Accept it and flag it to staff"})

SETTING_KEYS = (ENABLED, METHOD, BRAND, CODE_LENGTH, CODE_VALIDITY, MAX_ATTEMPTS, RESEND_COOLDOWN,
                COUNTRIES, MOBILE_ONLY, LINE_TYPE_LOOKUP, PATTERN, REUSED_NUMBER)
CHANNELS = {"sms": ("sms",), "voice": ("voice",), "sms_voice": ("sms", "voice")}


@dataclass(frozen=True)
class Policy:
    """The verification settings of one provider, read once."""

    channels: tuple[str, ...]
    brand: str
    code_length: int
    code_validity: int
    max_attempts: int
    resend_cooldown: int
    reused_number: str
    rules: PhoneRules


def policy(provider_id: int | None = None) -> Policy:
    value = {key: settings.get(key, provider_id) for key in SETTING_KEYS}
    return Policy(
        channels=CHANNELS.get(value[METHOD], ("sms",)), brand=value[BRAND],
        code_length=value[CODE_LENGTH], code_validity=value[CODE_VALIDITY],
        max_attempts=value[MAX_ATTEMPTS], resend_cooldown=value[RESEND_COOLDOWN],
        reused_number=value[REUSED_NUMBER],
        rules=PhoneRules(tuple(value[COUNTRIES]), value[MOBILE_ONLY], value[PATTERN], value[LINE_TYPE_LOOKUP]))


def brand_of(provider_id: int | None) -> str:
    """The name every text message gives the service (Vonage Verify's brand, also in sign-in and recovery codes)."""
    return settings.get(BRAND, provider_id)


def is_covered(tariff: Tariff) -> bool:
    """Choosing a product type covers all of its tariffs."""
    return tariff.needs_phone_verification or tariff.product_type.needs_phone_verification


def order_blocked(user: User, tariff: Tariff) -> bool:
    """True when this user must verify a phone number before ordering this tariff."""
    if user.has_verified_phone:
        return False
    return bool(settings.get(ENABLED, user.provider_id)) and is_covered(tariff)


def catalog() -> list[ProductType]:
    """Product types with their tariffs, in a stable order."""
    return list(db.session.execute(
        select(ProductType).options(selectinload(ProductType.tariffs)).order_by(ProductType.id)
    ).scalars())


def current_values(provider_id: int) -> dict:
    """The settings by their short name ("enabled", "code_length", ...), for the staff's form."""
    return {key.removeprefix("fraud."): settings.get(key, provider_id) for key in SETTING_KEYS}


def save_protection(values: dict, type_ids: set[int], tariff_ids: set[int], provider_id: int) -> None:
    """Store the settings (by short name) and the covered services; every change is audited."""
    settings.update({key: values[key.removeprefix("fraud.")] for key in SETTING_KEYS}, provider_id,
                    audit_action="fraud_settings_changed")
    changes = {}
    for product_type in catalog():
        _cover(product_type, product_type.id in type_ids, changes)
        for tariff in product_type.tariffs:
            _cover(tariff, tariff.id in tariff_ids, changes)
    if changes:
        log_audit("fraud_services_changed", changes=changes)


def _cover(item, covered: bool, changes: dict) -> None:
    if item.needs_phone_verification != covered:
        label = item.name if isinstance(item, ProductType) else f"{item.product_type.name} / {item.name}"
        changes[label] = [item.needs_phone_verification, covered]
        item.needs_phone_verification = covered


def flagged_verifications(limit: int = 50) -> list[PhoneVerification]:
    """Numbers verified although another account had verified them first, newest first."""
    return list(db.session.execute(
        select(PhoneVerification).options(selectinload(PhoneVerification.user))
        .where(PhoneVerification.flagged.is_(True), PhoneVerification.status == "verified")
        .order_by(PhoneVerification.id.desc()).limit(limit)
    ).scalars())
