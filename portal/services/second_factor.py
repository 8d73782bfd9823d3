"""Second factors: TOTP with a server-rendered QR code, SMS codes to the verified phone, recovery codes."""

import base64
import hashlib
import hmac
import logging
import secrets
from collections import defaultdict
from datetime import timedelta

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, session
from sqlalchemy import bindparam, delete, select, update

from portal.extensions import db
from portal.models import RecoveryCode, SecondFactor, SignInCode, User
from portal.models.base import utcnow
from portal.services import auth_methods, devices, fraud, lockout, reauth, settings, sms_budget
from portal.services.errors import DomainError
from portal.services.events import log_auth
from portal.services.factor_notices import tell_owner
from portal.services.gates import Gate, register_gate
from portal.services.sms import send_sms
from portal.services.totp_setup import begun_here, is_from_here

log = logging.getLogger(__name__)

KINDS = {"totp": "totp", "sms": "sms_2fa"}  # factor kind -> method switch
STAFF_ENROLS = "totp"  # the method staff enrol with: they have no verified phone for SMS codes
RECOVERY_CODES = 10
SMS_CODE_MINUTES = 5
SMS_CODE_ATTEMPTS = 5


class SecondFactorError(DomainError):
    """A refused code, password or step; `message` is safe to show next to the field."""


def _fernet() -> Fernet:
    key = hashlib.sha256(b"portal totp secret\0" + str(current_app.config["SECRET_KEY"]).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _code_digest(user_id: int, code: str) -> str:
    """Keyed hash of a short code, so a copy of the database does not reveal it by brute force."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _factor(user: User, kind: str) -> SecondFactor | None:
    return db.session.execute(select(SecondFactor).where(
        SecondFactor.user_id == user.id, SecondFactor.kind == kind)).scalar_one_or_none()


# The staff 2FA gate asks on every staff request: built once, not per call.
CONFIRMED_KINDS = select(SecondFactor.kind).where(
    SecondFactor.user_id == bindparam("user_id"), SecondFactor.confirmed_at.is_not(None))


def active_kinds(user: User) -> list[str]:
    """The confirmed factors of the user whose method is on for the user's provider."""
    return _on_for(db.session.execute(CONFIRMED_KINDS, {"user_id": user.id}).scalars(), user.provider_id)


def without_second_factor(users: list[User]) -> list[User]:
    """Those of `users` with no active second factor (one query for all of them)."""
    confirmed = defaultdict(set)
    for user_id, kind in db.session.execute(select(SecondFactor.user_id, SecondFactor.kind).where(
            SecondFactor.user_id.in_([user.id for user in users]), SecondFactor.confirmed_at.is_not(None))):
        confirmed[user_id].add(kind)
    return [user for user in users if not _on_for(confirmed[user.id], user.provider_id)]


def _on_for(kinds, provider_id: int) -> list[str]:
    return sorted(kind for kind in kinds if auth_methods.enabled(KINDS[kind], provider_id))


def has_second_factor(user: User) -> bool:
    return bool(active_kinds(user))


def texts_sign_in_codes(user: User | None) -> bool:
    """Whether `user` signs in with SMS codes (None, a stranger, is asked with the same query)."""
    kinds = db.session.execute(CONFIRMED_KINDS, {"user_id": user.id if user else 0}).scalars()
    return user is not None and "sms" in _on_for(kinds, user.provider_id)


def _enrolment_required(user: User) -> bool:
    """Staff without a second factor while the provider requires one (and offers a way to enrol)."""
    if not user.is_staff or not settings.get(auth_methods.STAFF_2FA_REQUIRED, user.provider_id):
        return False
    return auth_methods.enabled(STAFF_ENROLS, user.provider_id) and not has_second_factor(user)


def staff_must_enrol(user: User) -> bool:
    """The enrolment gate of a signed-in browser: `_enrolment_required`, unless this browser's
    sign-in went through an identity provider that did multi-factor (set at sign-in, cleared with
    the session)."""
    return not session.get("mfa_by_idp") and _enrolment_required(user)


def must_use_second_factor(user: User) -> bool:
    """True when a password alone must not let this user in (API authinfo refuses them). Whatever
    browser session the request carries counts for nothing here: it may be someone else's."""
    return has_second_factor(user) or _enrolment_required(user)


def _check_current_password(user: User, password: str) -> None:
    reauth.check_current_password(user, password, "2fa_change_refused", "wrong current password")


# --- TOTP -------------------------------------------------------------------------------------

def begin_totp(user: User) -> SecondFactor:
    """A fresh, unconfirmed TOTP secret (replacing an unconfirmed one). The caller commits."""
    factor = _factor(user, "totp")
    if factor is not None and factor.confirmed_at is not None:
        raise SecondFactorError("An authenticator app is set up already; remove it first.")
    if factor is None:
        factor = SecondFactor(user_id=user.id, kind="totp")
        db.session.add(factor)
    factor.secret = _fernet().encrypt(pyotp.random_base32(32).encode()).decode()
    begun_here(factor)
    db.session.flush()
    return factor


def pending_totp(user: User) -> SecondFactor | None:
    factor = _factor(user, "totp")  # shown and confirmed only in the browser that began it
    return factor if factor is not None and factor.confirmed_at is None and is_from_here(factor) else None


def totp_secret(factor: SecondFactor) -> str:
    return _fernet().decrypt(factor.secret.encode()).decode()


def totp_qr_svg(user: User, factor: SecondFactor) -> str:
    """The otpauth:// URI as an SVG data URI, drawn here (no image service sees the secret)."""
    uri = pyotp.TOTP(totp_secret(factor)).provisioning_uri(name=user.login, issuer_name="Portal")
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _check_totp(factor: SecondFactor, code: str) -> bool:
    """A right code of a step after the last one used. The step is claimed in one UPDATE, so of
    two requests with the same code at once, one waits on the row and then finds it used."""
    try:
        secret = totp_secret(factor)
    except InvalidToken:  # encrypted under another SECRET_KEY: only a recovery code gets them in now
        log.error("the authenticator secret of user %s cannot be decrypted (SECRET_KEY changed?)", factor.user_id)
        return False
    try:
        step = pyotp.TOTP(secret).verify_and_get_timecode(code, valid_window=1)
    except (pyotp.exceptions.OTPVerificationError, ValueError):
        return False
    return _claimed(update(SecondFactor).where(SecondFactor.id == factor.id, SecondFactor.last_step < step)
                    .values(last_step=step).returning(SecondFactor.id))


def _claimed(statement) -> bool:
    """Run an UPDATE or DELETE ... RETURNING that only matches while a secret is unused."""
    return db.session.execute(statement.execution_options(synchronize_session="fetch")).first() is not None


def confirm_totp(user: User, password: str, code: str) -> list[str]:
    """Turn the pending secret on once the app shows a right code; returns recovery codes if new."""
    _check_current_password(user, password)
    factor = pending_totp(user)
    if factor is None:
        raise SecondFactorError("Start the set-up again.")
    if not _check_totp(factor, _digits(code)):
        log_auth("2fa_failed", user=user, detail="totp enrolment")
        db.session.commit()
        raise SecondFactorError("The code is wrong or has expired.")
    factor.confirmed_at = utcnow()
    log_auth("2fa_enabled", user=user, detail="totp")
    tell_owner(user, "totp_added")
    return _codes_for_a_new_factor(user)


# --- SMS --------------------------------------------------------------------------------------

def enable_sms(user: User, password: str) -> list[str]:
    """SMS codes to the verified phone as a second factor; returns recovery codes if new. The
    password proves the number is the owner's choice, as saving it in General settings does: a
    number verified without it (/verify-phone) takes codes from now on, not after its delay."""
    _check_current_password(user, password)
    if not user.has_verified_phone:
        raise SecondFactorError("Verify your phone number first.")
    user.phone_recovery_after = None
    if _factor(user, "sms") is None:
        db.session.add(SecondFactor(user_id=user.id, kind="sms", confirmed_at=utcnow()))
        tell_owner(user, "sms_added")
    log_auth("2fa_enabled", user=user, detail="sms")
    db.session.flush()
    return _codes_for_a_new_factor(user)


def send_sign_in_code(user: User) -> None:
    """Text a fresh 6-digit code to the user's verified phone; raises DeliveryError, BudgetExceeded
    (the daily cap on texts), or SecondFactorError while the number is not verified (a changed
    number is, until it is again) or, verified without the password, waits out its delay (logged):
    whoever added it with a session alone must not pass the second factor with it."""
    if not user.has_verified_phone:
        raise SecondFactorError("Your phone number is not verified: sign in with a recovery code or "
                                "your authenticator app, then verify it in General settings.")
    if not user.phone_takes_codes:
        log_auth("2fa_code_refused", user=user, detail="sms: the number waits out its delay")
        db.session.commit()
        raise SecondFactorError(f"Your phone number was verified without your password: it receives sign-in "
                                f"codes from {user.phone_recovery_after:%Y-%m-%d %H:%M} UTC. Until then, sign "
                                f"in with a recovery code or your authenticator app.")
    sms_budget.take_for_code(user.phone)
    code = f"{secrets.randbelow(10**6):06d}"
    db.session.execute(delete(SignInCode).where(SignInCode.user_id == user.id))
    db.session.add(SignInCode(user_id=user.id, code_hash=_code_digest(user.id, code),
                              expires_at=utcnow() + timedelta(minutes=SMS_CODE_MINUTES)))
    log_auth("2fa_code_sent", user=user, detail="sms")
    db.session.commit()
    send_sms(user.phone, f"Your {fraud.brand_of(user.provider_id)} sign-in code: {code}. "
                         f"It expires in {SMS_CODE_MINUTES} minutes. Never share it.")


def _check_sms(user: User, code: str) -> bool:
    """Tries are counted in one UPDATE and a right code spent in one DELETE: no race exceeds or reuses."""
    row = db.session.execute(select(SignInCode).where(SignInCode.user_id == user.id)
                             .order_by(SignInCode.id.desc()).limit(1)).scalar()  # two sends at once: the last
    if row is None or row.expires_at < utcnow():
        return False
    if not _claimed(update(SignInCode).where(SignInCode.id == row.id, SignInCode.attempts < SMS_CODE_ATTEMPTS)
                    .values(attempts=SignInCode.attempts + 1).returning(SignInCode.id)):
        return False
    if not hmac.compare_digest(row.code_hash, _code_digest(user.id, code)):
        return False
    return _claimed(delete(SignInCode).where(SignInCode.id == row.id).returning(SignInCode.id))


# --- Recovery codes and the sign-in check -----------------------------------------------------

def _digits(code: str) -> str:
    return "".join(ch for ch in (code or "") if ch in "0123456789")


def _normal(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _new_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes (160 bits: 32 base32 characters in eight groups of four), replacing the old; only hashes kept."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(20)).decode().lower()
        codes.append("-".join(raw[i:i + 4] for i in range(0, len(raw), 4)))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_code_digest(user.id, _normal(raw))))
    return codes


def _codes_for_a_new_factor(user: User) -> list[str]:
    """A first second factor comes with ten recovery codes; a further one keeps the codes the user
    has (they may be written down already; renewing them is a button of its own). Empty if kept."""
    return [] if remaining_recovery_codes(user) else _new_recovery_codes(user)


def regenerate_recovery_codes(user: User, password: str) -> list[str]:
    _check_current_password(user, password)
    if not has_second_factor(user):
        raise SecondFactorError("Set up a second factor first.")
    log_auth("2fa_recovery_codes_renewed", user=user)
    tell_owner(user, "codes_renewed")
    return _new_recovery_codes(user)


def remaining_recovery_codes(user: User) -> int:
    return len(db.session.execute(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def _use_recovery_code(user: User, code: str) -> bool:
    return _claimed(update(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _code_digest(user.id, _normal(code)),
        RecoveryCode.used_at.is_(None)).values(used_at=utcnow()).returning(RecoveryCode.id))


def verify_sign_in_code(user: User, code: str) -> str:
    """Accept a TOTP, SMS or recovery code of the user; returns which. The caller commits."""
    kinds = active_kinds(user)
    if "totp" in kinds and _check_totp(_factor(user, "totp"), _digits(code)):
        return "totp"
    if "sms" in kinds and _check_sms(user, _digits(code)):
        return "sms"
    if kinds and len(_normal(code)) > 6 and _use_recovery_code(user, code):
        return "recovery code"
    lockout.record_failure(user, code_after_password=True)  # whoever has the password may not guess on
    devices.record_failure(user)
    log_auth("2fa_failed", user=user)
    db.session.commit()
    raise SecondFactorError("The code is wrong or has expired.")


def remove_factor(user: User, kind: str, password: str) -> None:
    """Remove one factor (and the recovery codes with the last one). The caller commits."""
    _check_current_password(user, password)
    was_on = any(db.session.execute(delete(SecondFactor).where(
        SecondFactor.user_id == user.id, SecondFactor.kind == kind).returning(SecondFactor.confirmed_at)).scalars())
    remaining = db.session.execute(CONFIRMED_KINDS, {"user_id": user.id}).first()  # a set-up half done is none
    if remaining is None:
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    log_auth("2fa_disabled", user=user, detail=kind)
    if was_on:
        tell_owner(user, f"{kind}_removed", second_factor_left=remaining is not None)


register_gate(Gate("staff_2fa", staff_must_enrol, "settings.security",
                   frozenset({"settings.totp_begin", "settings.totp_confirm", "settings.sms_enable"})))
