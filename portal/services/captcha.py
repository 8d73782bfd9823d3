"""Captcha: off, ALTCHA (self-hosted proof of work, the default) or Google reCAPTCHA, added to forms when needed."""

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta

import altcha
from flask import current_app, url_for
from flask_wtf.recaptcha import Recaptcha, RecaptchaField
from markupsafe import Markup
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from wtforms import Field, ValidationError

from portal.extensions import db
from portal.models import SpentCaptcha
from portal.models.base import utcnow
from portal.services import lockout, settings
from portal.services.client_ip import client_network
from portal.web import widen_csp

log = logging.getLogger(__name__)

MODES = {"off": "Off", "altcha": "ALTCHA (self-hosted proof of work)", "recaptcha": "Google reCAPTCHA"}
MODE = settings.define("captcha.mode", "altcha", "Captcha", choices=MODES)
AFTER_FAILURES = settings.define("captcha.after_failures", 3,
                                 "At login and recovery, ask after this many failures (IP or account)",
                                 bounds=(1, 100))
KEYS = [MODE, AFTER_FAILURES]
ALGORITHM = "PBKDF2/SHA-256"
CHALLENGE_MINUTES = 10
MESSAGE = "Please complete the captcha."


def recaptcha_configured() -> bool:
    """Both reCAPTCHA keys are set: without them no answer to the widget can pass."""
    config = current_app.config
    return bool(config.get("RECAPTCHA_PUBLIC_KEY") and config.get("RECAPTCHA_PRIVATE_KEY"))


def mode() -> str:
    """The captcha in use: the stored choice, but ALTCHA while reCAPTCHA lacks its keys (chosen
    before they left the configuration), so that nobody is locked out of registration or sign-in."""
    value = settings.get(MODE)
    if value == "recaptcha" and not recaptcha_configured():
        log.warning("captcha.mode is recaptcha but RECAPTCHA_PUBLIC_KEY/RECAPTCHA_PRIVATE_KEY are not set: using ALTCHA")
        return "altcha"
    return value if value in MODES else "off"


def needed_after_failures(login: str = "") -> bool:
    """At login and recovery: only once this IP or this typed login has failed N times."""
    if mode() == "off":
        return False
    threshold = int(settings.get(AFTER_FAILURES))
    return (lockout.recent_failures("ip", client_network()) >= threshold
            or bool(login) and lockout.recent_failures("login", login.strip()) >= threshold)


def protect(form_class, needed: bool = True):
    """`form_class` with the configured captcha field added when `needed`."""
    current = mode() if needed else "off"
    if current == "altcha":
        return type(form_class.__name__, (form_class,), {"altcha": AltchaField()})
    if current == "recaptcha":
        sources = recaptcha_sources()
        widen_csp("script-src", *sources)
        widen_csp("frame-src", *sources)
        return type(form_class.__name__, (form_class,),
                    {"recaptcha": RecaptchaField(validators=[SafeRecaptcha(MESSAGE)])})
    return form_class


def protects(form) -> bool:
    return hasattr(form, "altcha") or hasattr(form, "recaptcha")


# ALTCHA --------------------------------------------------------------------------------------
def _secret(purpose: str) -> bytes:
    key = current_app.config["SECRET_KEY"]
    return hmac.new(key.encode() if isinstance(key, str) else key, purpose.encode(),
                    hashlib.sha256).digest()


def new_challenge() -> dict:
    """A signed challenge; the solver must find a random counter (the work is its size)."""
    cfg = current_app.config
    counter = secrets.randbelow(int(cfg["ALTCHA_MAX_NUMBER"])) + 1
    challenge = altcha.create_challenge(
        ALGORITHM, int(cfg["ALTCHA_COST"]), counter=counter,
        expires_at=datetime.now(UTC) + timedelta(minutes=CHALLENGE_MINUTES),
        hmac_secret=_secret("altcha-challenge"), hmac_key_secret=_secret("altcha-key"))
    return challenge.to_dict()


def verify_altcha(payload: str) -> None:
    """Raise ValidationError unless `payload` solves one of our challenges, unused so far."""
    if not payload:
        raise ValidationError(MESSAGE)
    result = altcha.verify_solution(payload, _secret("altcha-challenge"),
                                    hmac_key_secret=_secret("altcha-key"))
    if not result.verified:
        raise ValidationError("The captcha expired or was not solved. Please try again."
                              if result.expired else MESSAGE)
    challenge = altcha.Payload.from_base64(payload).challenge
    _spend(challenge.signature, challenge.parameters.expires_at)


def _spend(signature: str, expires_at: int) -> None:
    """Record a solution as used; a second use is refused (across workers: a unique row)."""
    now = utcnow()
    db.session.execute(delete(SpentCaptcha).where(SpentCaptcha.expires_at < now))
    try:
        with db.session.begin_nested():
            db.session.add(SpentCaptcha(digest=hashlib.sha256(signature.encode()).hexdigest(),
                                        expires_at=datetime.fromtimestamp(expires_at, UTC)))
    except IntegrityError:
        db.session.commit()
        raise ValidationError("This captcha was already used. Please solve it again.") from None
    db.session.commit()


class AltchaWidget:
    """The <altcha-widget> element; it solves in the browser and posts its payload as `altcha`."""

    def __call__(self, field, **kwargs):
        return Markup('<altcha-widget challenge="{}" name="{}" id="{}"></altcha-widget>').format(
            url_for("auth.altcha_challenge"), field.name, field.id)


class AltchaField(Field):
    widget = AltchaWidget()

    def __init__(self, label="Captcha", **kwargs):
        super().__init__(label, **kwargs)

    def _value(self):
        return ""

    def process_formdata(self, valuelist):
        self.data = valuelist[0] if valuelist else ""

    def pre_validate(self, form):
        verify_altcha(self.data or "")


# reCAPTCHA -----------------------------------------------------------------------------------
class SafeRecaptcha(Recaptcha):
    """Flask-WTF's check, with an unreachable verify server turned into a form error."""

    def _validate_recaptcha(self, response, remote_addr):
        try:
            return super()._validate_recaptcha(response, remote_addr)
        except (OSError, ValueError, KeyError) as error:
            log.error("reCAPTCHA verify server failed: %s", error)
            raise ValidationError("The captcha could not be checked. Please try again.") from error


def recaptcha_sources() -> tuple[str, ...]:
    """Origins the reCAPTCHA widget loads from (for the page's Content-Security-Policy)."""
    script = current_app.config.get("RECAPTCHA_SCRIPT") or "https://www.google.com/recaptcha/api.js"
    scheme, _, rest = script.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}", "https://www.gstatic.com/recaptcha/"
