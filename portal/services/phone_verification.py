"""Phone verification: a code through Vonage Verify v2 (or the console outbox), its check, and
the verified number written on the user. Every attempt goes to the auth log, never the code."""

import hmac
import logging
import secrets
from datetime import timedelta
from hashlib import sha256

from flask import current_app
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import PhoneVerification, User
from portal.models.base import utcnow
from portal.models.fraud import mask
from portal.services import fraud, phone_filter, sms_budget, vonage_client
from portal.services.client_ip import client_ip, client_network
from portal.services.data_export import user_rows
from portal.services.delivery import DeliveryError
from portal.services.errors import DomainError
from portal.services.events import log_auth
from portal.services.links import public_url
from portal.services.notices import send_notice
from portal.services.personal_data import PersonalData, UserIds, register
from portal.services.sms import send_sms

log = logging.getLogger(__name__)


class VerificationError(DomainError):
    """A step that did not go through; `field` names where the message belongs."""


def _latest_pending(user: User, lock: bool = False) -> PhoneVerification | None:
    query = (select(PhoneVerification)
             .where(PhoneVerification.user_id == user.id, PhoneVerification.status == "pending")
             .order_by(PhoneVerification.id.desc()).limit(1))
    return db.session.execute(query.with_for_update() if lock else query).scalars().first()


def pending(user: User) -> PhoneVerification | None:
    """The verification waiting for its code, while the code is still valid."""
    row = _latest_pending(user)
    return row if row is not None and row.expires_at > utcnow() else None


def _vonage() -> bool:
    return current_app.config["SMS_BACKEND"] == "vonage"


def _code_hash(row_id: int, code: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"phone-code:{row_id}:{code}".encode(), sha256).hexdigest()


def _refuse(user: User, number: str, reason: str, message: str, field: str = "phone"):
    log_auth("phone_verification_refused", user=user, detail=f"{mask(number)}: {reason}"[:300])
    db.session.commit()
    raise VerificationError(message, field)


def _fault(user: User, number: str, step: str, error: Exception, field: str = "phone"):
    """Vonage (or the SMS backend) failed: undo this step, log it for staff, tell the user."""
    db.session.rollback()
    log.error("phone verification %s for %s failed: %r", step, mask(number), error)
    log_auth("phone_verification_error", user=user, detail=f"{mask(number)}: {step}: {type(error).__name__}")
    db.session.commit()
    raise VerificationError(getattr(error, "user_message", None) or getattr(error, "message", ""), field)


def _verified_elsewhere(user: User, number: str) -> bool:
    """Another account holds this number verified, or did: clearing the phone after an order must
    not free the number for the next account."""
    holds = select(User.id).where(User.phone == number, User.phone_verified_at.is_not(None), User.id != user.id)
    held = select(PhoneVerification.id).where(PhoneVerification.number == number,
                                              PhoneVerification.status == "verified",
                                              PhoneVerification.user_id != user.id)
    return db.session.execute(holds.union_all(held).limit(1)).first() is not None


def _close(row: PhoneVerification, status: str) -> None:
    row.status, row.finished_at = status, utcnow()


def drop_at_vonage(row: PhoneVerification) -> None:
    """Best effort for a row closed here: a request Vonage keeps running is never checked again."""
    if not (_vonage() and row.request_id):
        return
    try:
        vonage_client.cancel_verification(current_app.config, row.request_id)
    except vonage_client.VonageError as error:
        log.warning("could not cancel a verification at Vonage: %r", error)


def start(user: User, raw_number: str, return_to: str | None = None) -> PhoneVerification:
    """Check the number and send a code; the same number again is a resend (tries are kept).
    A number another account verified is refused only once it has cost what a code costs (the
    budgets and the cooldown), so that refusal cannot be probed for free."""
    if user.has_verified_phone:
        raise VerificationError("Your phone number is already verified. Change it in General settings.", "phone")
    policy = fraud.policy(user.provider_id)
    try:
        number = phone_filter.check(raw_number, policy.rules)
    except phone_filter.PhoneRefused as refusal:
        _refuse(user, raw_number.strip()[:20], refusal.reason, refusal.message)
    e164, region = phone_filter.e164(number), phone_filter.region_of(number)
    ip = client_ip()
    try:
        sms_budget.reserve(user.id, client_network(), e164, region, policy.resend_cooldown)
    except sms_budget.BudgetExceeded as exceeded:
        _refuse(user, e164, f"budget: {exceeded.reason}", exceeded.message)
    reused = _verified_elsewhere(user, e164)
    if reused and policy.reused_number == "refuse":
        sms_budget.start_cooldown(user.id, e164, policy.resend_cooldown)
        _refuse(user, e164, "verified by another account",
                "This number cannot be used. Enter another number or contact support.")
    row = pending(user)
    if phone_filter.needs_line_type(number, policy.rules) and (row is None or row.number != e164):
        _check_line_type(user, e164)  # a resend to the pending number was looked up when it began
    replaced = None
    if row is not None and row.number == e164:
        _cancel_for_resend(user, row)
    else:
        replaced = row
        for stale in db.session.execute(select(PhoneVerification).where(
                PhoneVerification.user_id == user.id, PhoneVerification.status == "pending")).scalars():
            _close(stale, "cancelled")
        row = PhoneVerification(user_id=user.id, number=e164, country=region, attempts=0, sends=0)
        db.session.add(row)
    row.flagged, row.ip = reused, ip
    row.return_to = return_to or row.return_to
    _send(user, row, policy)
    if replaced is not None:
        drop_at_vonage(replaced)  # only now: had the new code failed, the old one would still work
    sms_budget.start_cooldown(user.id, e164, policy.resend_cooldown)
    event = "phone_verification_started" if row.sends == 1 else "phone_verification_resent"
    log_auth(event, user=user, detail=f"{mask(e164)} by {'+'.join(policy.channels)}")
    db.session.commit()
    return row


def _cancel_for_resend(user: User, row: PhoneVerification) -> None:
    """Vonage runs one verification per number, so a resend cancels the running one first and
    records that in its own commit: should the new one fail, no code is waiting on either side."""
    if not (_vonage() and row.request_id):
        return  # the console outbox keeps nothing running: the new code replaces the old
    try:
        vonage_client.cancel_verification(current_app.config, row.request_id)
    except vonage_client.VonageError as error:
        _fault(user, row.number, "cancel", error)
    _close(row, "cancelled")
    db.session.commit()
    row.status, row.finished_at = "pending", None  # the same verification again, its tries kept


def _check_line_type(user: User, e164: str) -> None:
    """Mobile numbers only, where the digits cannot tell: Vonage Number Insight gives the line type.
    Each lookup is billed, so it comes after the SMS budgets and counts against them like a text."""
    try:
        network_type = vonage_client.line_type(current_app.config, e164)
    except vonage_client.VonageError as error:
        _fault(user, e164, "line type", error)
    try:
        phone_filter.check_line_type(network_type)
    except phone_filter.PhoneRefused as refusal:
        _refuse(user, e164, f"{refusal.reason}: {network_type}", refusal.message)


def _send(user: User, row: PhoneVerification, policy: fraud.Policy) -> None:
    now = utcnow()
    row.sent_at, row.sends = now, row.sends + 1
    if _vonage():
        try:
            row.request_id = vonage_client.start_verification(
                current_app.config, row.number, policy.brand, channels=policy.channels,
                code_length=policy.code_length, channel_timeout=policy.code_validity)
        except vonage_client.VonageError as error:
            _fault(user, row.number, "start", error)
        row.expires_at = now + timedelta(seconds=policy.code_validity * len(policy.channels))
        return
    row.expires_at = now + timedelta(seconds=policy.code_validity)
    db.session.flush()  # the row id salts the code's hash
    code = "".join(secrets.choice("0123456789") for _ in range(policy.code_length))
    row.code_hash = _code_hash(row.id, code)
    try:
        send_sms(row.number, f"Your {policy.brand} verification code is {code}")
    except DeliveryError as error:
        _fault(user, row.number, "send", error)


def check(user: User, code: str) -> PhoneVerification:
    """Accept the code of the pending verification once; wrong tries count up to the limit."""
    policy = fraud.policy(user.provider_id)
    row = _latest_pending(user, lock=True)
    if row is None:
        raise VerificationError("No code is waiting to be checked. Ask for a new code.", "code")
    if row.expires_at <= utcnow():
        _close(row, "expired")
        _refuse(user, row.number, "code expired", "This code has expired. Ask for a new code.", "code")
    code = (code or "").strip()
    if _vonage():
        try:
            accepted = vonage_client.check_code(current_app.config, row.request_id, code)
        except vonage_client.VonageCodeRejected:
            accepted = False
        except vonage_client.VonageVerificationGone:
            _close(row, "expired")
            _refuse(user, row.number, "verification over at Vonage",
                    vonage_client.VonageVerificationGone.user_message, "code")
        except vonage_client.VonageError as error:
            _fault(user, row.number, "check", error, field="code")
    else:
        accepted = hmac.compare_digest(row.code_hash or "", _code_hash(row.id, code))
    if not accepted:
        _wrong_code(user, row, policy)
    return _verified(user, row, policy)


def _wrong_code(user: User, row: PhoneVerification, policy: fraud.Policy):
    row.attempts += 1
    left = policy.max_attempts - row.attempts
    if left > 0:
        log_auth("phone_verification_failed", user=user, detail=f"{mask(row.number)}: wrong code, {left} left")
        db.session.commit()
        raise VerificationError(f"The code is not correct. {left} {'try' if left == 1 else 'tries'} left.", "code")
    _close(row, "failed")
    drop_at_vonage(row)
    log_auth("phone_verification_voided", user=user, detail=f"{mask(row.number)}: too many wrong codes")
    db.session.commit()
    raise VerificationError("Too many wrong codes. Ask for a new code.", "code")


def _verified(user: User, row: PhoneVerification, policy: fraud.Policy) -> PhoneVerification:
    try:  # the filter staff have now, which may be stricter than when the code was sent
        phone_filter.check(row.number, policy.rules)
    except phone_filter.PhoneRefused as refusal:
        _close(row, "cancelled")
        _refuse(user, row.number, refusal.reason, refusal.message, "code")
    reused = _verified_elsewhere(user, row.number)
    if reused and policy.reused_number == "refuse":
        _close(row, "cancelled")
        _refuse(user, row.number, "verified by another account",
                "This number cannot be used. Enter another number or contact support.", "code")
    _close(row, "verified")
    row.flagged = reused
    saved_with_password = user.phone == row.number  # General settings asks for it; this page does not
    user.phone, user.phone_verified_at = row.number, row.finished_at
    user.phone_recovery_after = None if saved_with_password else row.finished_at + timedelta(
        hours=current_app.config["PHONE_RECOVERY_DELAY_HOURS"])
    log_auth("phone_verified", user=user, detail=mask(row.number))
    if reused:
        log_auth("phone_verification_flagged", user=user,
                 detail=f"{mask(row.number)} is verified by another account too")
    if not saved_with_password:
        _tell_owner(user)
    db.session.commit()
    return row


def _tell_owner(user: User) -> None:
    """A session alone could have added this number, and with it a way to recover the account:
    the owner hears of it at once, and the number takes sign-in and recovery codes only after a delay."""
    send_notice(user, "A phone number was verified on your account",
                f"the phone number {mask(user.phone)} was verified on your account {user.login} on "
                f"{user.phone_verified_at:%Y-%m-%d %H:%M} UTC. It can receive sign-in and password "
                f"recovery codes from {user.phone_recovery_after:%Y-%m-%d %H:%M} UTC.\n\nIf this was not you, change "
                f"your password and the phone number in General settings now:\n"
                f"{public_url('settings.general')}\n")


def cancel(user: User) -> None:
    """Drop the pending verification ("use another number")."""
    row = close_pending(user)
    if row is None:
        return
    log_auth("phone_verification_cancelled", user=user, detail=mask(row.number))
    db.session.commit()
    drop_at_vonage(row)


def close_pending(user: User) -> PhoneVerification | None:
    """Close the verification waiting for its code, if any; the caller commits, then calls
    drop_at_vonage with it."""
    row = pending(user)
    if row is not None:
        _close(row, "cancelled")
    return row


def _erase(user_ids: UserIds) -> int:
    result = db.session.execute(delete(PhoneVerification).where(PhoneVerification.user_id.in_(user_ids)))
    db.session.flush()
    return result.rowcount or 0


register(PersonalData(
    name="phone_verification",
    fields={"number": "erased", "country": "erased", "ip": "erased", "request_id": "erased"},
    erase=_erase,
    export=lambda user: user_rows(PhoneVerification, user, "number", "country", "status", "created_at",
                                  "sent_at", "expires_at", "finished_at", "ip"),
))
