"""General settings: the user's name and phone number, and an email change confirmed by a link to the new address."""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from portal.extensions import db
from portal.models import PendingEmailChange, User
from portal.models.base import utcnow
from portal.models.fraud import mask
from portal.services import identifiers, phone_filter, phone_verification, reauth, sessions
from portal.services.delivery import DeliveryError
from portal.services.errors import DomainError
from portal.services.events import log_audit, log_auth
from portal.services.links import public_url
from portal.services.mail import send_mail
from portal.services.notices import send_notice
from portal.services.tokens import digest, new_token
from portal.wording import counted


class EmailTaken(DomainError):
    default_message = "This email address belongs to another account."


class EmailLinkInvalid(DomainError):
    default_message = "This confirmation link is invalid, expired or already used."


@dataclass(frozen=True)
class ProfileSaved:
    changes: dict  # stored now: the name
    confirm_sent_to: str | None  # the new address a confirmation link went to


def update_profile(user: User, name: str, email: str, password: str = "") -> ProfileSaved:
    """Store a changed name; for a changed email, check the password, then send a link to the
    new address first.

    The password keeps a stolen session from moving the account's recovery to another mailbox
    (CurrentPasswordWrong); the address changes only when the link is used
    (`confirm_email_change`), which proves the new mailbox is theirs and typed right. If the
    link cannot be sent, nothing is stored and DeliveryError propagates.
    """
    name, email = name.strip(), identifiers.fold(email)
    sent_to = None
    if email != user.email:
        # The password first: without it, nobody learns whether an address has an account here.
        reauth.check_current_password(user, password, "email_change_failed")
        if identifiers.taken(email, except_user_id=user.id):
            raise EmailTaken()
        _request_email_change(user, email)
        sent_to = email
    changes = {}
    if name != user.name:
        changes["name"] = [user.name, name]
        user.name = name
        log_audit("profile_changed", target=user, changes=changes)
    db.session.commit()
    return ProfileSaved(changes, sent_to)


def pending_email(user: User) -> PendingEmailChange | None:
    """The change waiting for its link, if one is still valid."""
    return db.session.execute(
        select(PendingEmailChange).where(PendingEmailChange.user_id == user.id,
                                         PendingEmailChange.expires_at > utcnow())
    ).scalar_one_or_none()


def confirm_email_change(token: str) -> User:
    """Apply the change the link was sent for, once; tell the old address."""
    pending = db.session.execute(
        select(PendingEmailChange).where(PendingEmailChange.token_hash == digest(token))
    ).scalar_one_or_none()
    if pending is None or pending.expires_at < utcnow():
        raise EmailLinkInvalid()
    # Claim the link: of two requests using it at once, only the one whose DELETE removed the row
    # goes on; the other waits on the row lock, then finds it gone.
    claimed = db.session.execute(
        delete(PendingEmailChange).where(PendingEmailChange.id == pending.id)
        .returning(PendingEmailChange.id)
    ).scalars().all()
    user = db.session.get(User, pending.user_id)
    if not claimed or not user.can_sign_in:
        db.session.rollback()
        raise EmailLinkInvalid()
    if identifiers.taken(pending.email, except_user_id=user.id):
        db.session.commit()
        raise EmailTaken()
    old_email, email = user.email, pending.email
    changes = {"email": [old_email, email]}
    if not user.is_staff and user.login == old_email:  # a client user's login follows the email
        changes["login"] = [user.login, email]
        user.login = email
    user.email = email
    sessions.drop_links_in_flight([user.id])  # reset links mailed to the old address
    log_audit("profile_changed", target=user, changes=changes, actor=user)
    tell_old_address(user, old_email)
    db.session.commit()
    return user


def tell_old_address(user: User, old_email: str, by_staff: bool = False) -> None:
    """With a change of `user`'s email (the caller commits), tell the address it replaced: if the
    change was not theirs, that mailbox is where the owner learns that recovery now goes elsewhere."""
    who = "An administrator changed" if by_staff else "You changed"
    send_notice(user, "Your email address was changed",
                f"{who} the email address of your account to {user.email}. If this was not you or you "
                "did not ask for it, contact support at once.\n", to=old_email)


def _request_email_change(user: User, email: str) -> None:
    """Replace the user's pending change with one for `email`, mail its link, audit the request.

    If the link cannot be sent, the change it replaced comes back: the link already in the
    mailbox keeps working.
    """
    token = new_token()
    hours = current_app.config["EMAIL_CHANGE_LINK_HOURS"]
    replaced = db.session.execute(
        delete(PendingEmailChange).where(PendingEmailChange.user_id == user.id)
        .returning(PendingEmailChange.email, PendingEmailChange.token_hash,
                   PendingEmailChange.expires_at, PendingEmailChange.created_at)
    ).one_or_none()
    pending = PendingEmailChange(user_id=user.id, email=email, token_hash=digest(token),
                                 expires_at=utcnow() + timedelta(hours=hours))
    db.session.add(pending)
    db.session.commit()
    try:
        send_mail(email, "Confirm your new email address",
                  # No name: the account's holder chose it, and this address is not proven yet.
                  f"Hello,\n\nto make this the email address of your account, "
                  f"open this link (valid {counted(hours, 'hour')}):\n"
                  f"{public_url('settings.confirm_email', token=token)}\n\n"
                  "Until then your account keeps its current address. If you did not ask for this, "
                  "ignore this message.\n")
    except DeliveryError:
        # A link nobody received must not wait in the database. The row is overwritten in place,
        # not deleted and re-added (one row per user): if a newer request replaced it meanwhile,
        # this touches nothing.
        if replaced is None:
            db.session.delete(pending)
        else:
            db.session.execute(update(PendingEmailChange).where(PendingEmailChange.id == pending.id)
                               .values(replaced._asdict()).execution_options(synchronize_session=False))
        db.session.commit()
        raise
    log_audit("email_change_requested", target=user, changes={"email": [user.email, email]})


PHONE_SAVED, PHONE_UNCHANGED, PHONE_CONFIRMED = "saved", "unchanged", "confirmed"


def change_phone(user: User, raw_number: str, current_password: str) -> str:
    """A new phone (or none) clears the verified state and any code in flight; needs the password.
    Returns PHONE_SAVED, PHONE_UNCHANGED for the number already saved, or PHONE_CONFIRMED for the
    number already saved that was verified without the password (/verify-phone): the password now
    proves it is the owner's, and its wait for codes ends."""
    reauth.check_current_password(user, current_password, "phone_change_failed", "wrong current password")
    try:
        new = phone_filter.e164(phone_filter.parse(raw_number)) if (raw_number or "").strip() else None
    except phone_filter.PhoneRefused as refusal:
        raise phone_verification.VerificationError(refusal.message, "phone") from None
    if new == user.phone:
        if not user.has_verified_phone or user.phone_takes_codes:
            return PHONE_UNCHANGED
        user.phone_recovery_after = None
        log_auth("phone_confirmed", user=user, detail=mask(new))
        db.session.commit()
        return PHONE_CONFIRMED
    before = user.phone
    user.phone, user.phone_verified_at, user.phone_recovery_after = new, None, None
    dropped = phone_verification.close_pending(user)
    log_auth("phone_changed", user=user, detail=f"{mask(before) or 'none'} -> {mask(new) or 'none'}")
    db.session.commit()
    if dropped is not None:
        phone_verification.drop_at_vonage(dropped)
    return PHONE_SAVED
