"""Password recovery: a single-use email link or an SMS code, the same answer for every account."""

import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from portal.extensions import db
from portal.models import AuthEvent, RecoveryLink, ResetCode, User
from portal.models.base import utcnow
from portal.services import (
    background,
    fraud,
    identifiers,
    lockout,
    password_change,
    passwords,
    second_factor,
    settings,
    sms_budget,
)
from portal.services.delivery import DeliveryError
from portal.services.errors import DomainError
from portal.services.events import log_auth, request_facts
from portal.services.links import public_url
from portal.services.mail import greeting, send_mail
from portal.services.personal_data import NotExported, PersonalData, UserIds, register
from portal.services.sms import send_sms
from portal.services.tokens import digest, new_token
from portal.wording import counted

log = logging.getLogger(__name__)

CHANNELS = {"both": "Email or SMS (the user chooses)", "email": "Email only", "sms": "SMS only"}
CHANNEL = settings.define("recovery.channels", "both", "Recovery by", choices=CHANNELS)
LINK_MINUTES = settings.define("recovery.link_minutes", 60, "Email link valid for (minutes, at most 60)",
                               bounds=(5, 60))
CODE_MINUTES = settings.define("recovery.code_minutes", 10, "SMS code valid for (minutes, at most 10)",
                               bounds=(1, 10))
CODE_ATTEMPTS = settings.define("recovery.code_attempts", 5, "Wrong codes before a code dies", bounds=(1, 10))
KEYS = [CHANNEL, LINK_MINUTES, CODE_MINUTES, CODE_ATTEMPTS]
MAX_SENDS = 3
# Wrong recovery codes an account takes in a day, across attempts: each attempt brings a fresh code
# with its own tries, so without this bound a stranger could guess on, attempt after attempt.
DAILY_WRONG_CODES = 10


class RecoveryError(DomainError):
    """A link or code that cannot be used; `message` is safe to show."""


LINK_INVALID = "This link is invalid or has expired. Please ask for a new one."
CODE_DEAD = "This code is no longer valid. Please ask for a new one."


def channels() -> list[str]:
    chosen = settings.get(CHANNEL)
    return ["email", "sms"] if chosen not in ("email", "sms") else [chosen]


def _minutes(key: str) -> timedelta:
    return timedelta(minutes=settings.bounded(key))


def send_password_link(user: User, purpose: str = "reset") -> None:
    """Email `user` a single-use set-password link now; "invite" welcomes a new administrator.

    Once it is sent, older links of the user die. Raises DeliveryError when the email cannot be
    sent; the new link is then dropped and the older ones keep working.
    """
    _hand_over_link(user.id, *_new_link(user, purpose), request_facts())


def _new_link(user: User, purpose: str) -> tuple[int, str, tuple[str, str, str]]:
    """Store a link (before it is mailed, so a quick click finds it); its id, event and email,
    all read before the commit (nothing is read again for a known account)."""
    token = new_token()
    lifetime = (timedelta(hours=current_app.config["INVITE_LINK_HOURS"]) if purpose == "invite"
                else _minutes(LINK_MINUTES))
    link = public_url("auth.recover_reset", token=token)
    valid = counted(int(lifetime.total_seconds() // 60), "minute")
    if purpose == "invite":
        subject = "Welcome: set your password"
        body = (f"{greeting(user)}an account was created for you on the portal. "
                f"Your login is {user.login}.\nChoose your password here (the link works once, for "
                f"{valid}):\n{link}\n")
    else:
        subject = "Reset your password"
        body = (f"{greeting(user)}someone (perhaps you) asked to reset the password "
                f"of your account {user.login}.\nChoose a new password here (the link works once, for "
                f"{valid}):\n{link}\n\nIf this was not you, ignore this message: nothing changes.\n")
    event = "invite_link_sent" if purpose == "invite" else "recovery_link_sent"
    email = (user.email, subject, body)
    stored = RecoveryLink(user_id=user.id, token_hash=digest(token), purpose=purpose,
                          expires_at=utcnow() + lifetime)
    db.session.add(stored)
    db.session.flush()
    link_id = stored.id
    db.session.commit()
    return link_id, event, email


def _hand_over_link(user_id: int, link_id: int, event: str, email: tuple[str, str, str],
                    facts: tuple[str | None, str | None]) -> None:
    """Mail a stored link: then the user's older links die; if it cannot go, it is dropped. A link
    that died while it waited (a newer one went first, the password changed, it expired) is not
    sent: it would only arrive dead."""
    stored = db.session.get(RecoveryLink, link_id)
    if stored is None or stored.expires_at < utcnow():
        return
    try:
        send_mail(*email)
    except DeliveryError:
        db.session.execute(delete(RecoveryLink).where(RecoveryLink.id == link_id))
        db.session.commit()  # a link nobody received must not wait in the database
        raise
    db.session.execute(delete(RecoveryLink).where(RecoveryLink.user_id == user_id, RecoveryLink.id < link_id))
    log_auth(event, user=db.session.get(User, user_id), facts=facts)
    db.session.commit()


def _mail_reset_link(user_id: int, link_id: int, event: str, email: tuple[str, str, str],
                     facts: tuple[str | None, str | None]) -> None:
    """The recovery page's link, in the background: a failure is logged, the page looked the same."""
    try:
        _hand_over_link(user_id, link_id, event, email, facts)
    except DeliveryError as error:
        log.error("recovery link to user %s not sent: %s", user_id, error.message)
        log_auth("recovery_link_failed", user=db.session.get(User, user_id), detail=error.message, facts=facts)
        db.session.commit()


def request_recovery(identifier: str, channel: str) -> str | None:
    """Start a recovery for a login or email; returns the SMS code step's ticket (None by email).

    Unknown, denied and deactivated accounts, and SMS to an account without a verified phone,
    get nothing, but the caller sees exactly what it sees for a real account.
    """
    user = identifiers.find_account(identifier)
    eligible = user is not None and user.can_sign_in
    if channel not in channels():
        channel = channels()[0]
    if channel == "email":
        if eligible:  # handed to the mail relay after the answer: its time would tell who exists
            background.later("mail", _mail_reset_link, user.id, *_new_link(user, "reset"), request_facts())
        else:
            log_auth("recovery_refused", user=user, login=identifier[:254])
            db.session.commit()
        return None
    closed = _no_code_for(user)
    phone = user.phone if eligible and user.phone_takes_codes and not closed else None
    provider_id = user.provider_id if phone else None  # read before the commit, as everything here
    ticket, code = new_token(), f"{secrets.randbelow(10**6):06d}"
    db.session.execute(delete(ResetCode).where(ResetCode.expires_at < utcnow()))
    db.session.add(ResetCode(ticket_hash=digest(ticket), user_id=user.id if phone else None,
                                code_hash=passwords.hash_password(code),
                                expires_at=utcnow() + _minutes(CODE_MINUTES)))
    log_auth("recovery_code_sent" if phone else "recovery_refused", user=user, login=identifier[:254])
    db.session.commit()
    if phone:
        background.later("sms", _text_code, phone, provider_id, code)
    return ticket


def _text_code(phone: str, provider_id: int, code: str) -> None:
    """Text a recovery code (in the background); a refusal is logged, the page looked the same."""
    minutes = int(_minutes(CODE_MINUTES).total_seconds() // 60)
    try:
        sms_budget.take_for_code(phone)
        send_sms(phone, f"Your {fraud.brand_of(provider_id)} password recovery code is {code}. "
                        f"It is valid for {counted(minutes, 'minute')}. Never share it.")
    except (sms_budget.BudgetExceeded, DeliveryError) as error:
        log.error("recovery code SMS not sent: %s", error.message)


def _live_code(ticket: str) -> tuple[ResetCode, User | None]:
    """The attempt a ticket holds and its account (None for an unknown one), in one query for both."""
    found = db.session.execute(
        select(ResetCode, User).outerjoin(User, User.id == ResetCode.user_id)
        .where(ResetCode.ticket_hash == digest(ticket or ""))
    ).one_or_none()
    row = found[0] if found else None
    if row is None or row.expires_at < utcnow() or row.attempts >= int(settings.get(CODE_ATTEMPTS)):
        raise RecoveryError(CODE_DEAD)
    return row, found[1]


def resend_code(ticket: str) -> None:
    """A new code for the same attempt: the count of wrong tries goes on."""
    row, user = _live_code(ticket)
    if row.sends >= MAX_SENDS:
        raise RecoveryError("No more codes can be sent for this attempt. Please start again.")
    code = f"{secrets.randbelow(10**6):06d}"
    row.code_hash = passwords.hash_password(code)
    row.sends += 1
    row.expires_at = utcnow() + _minutes(CODE_MINUTES)
    closed = _no_code_for(user)
    takes_codes = user is not None and user.phone_takes_codes and not closed  # the number may have changed
    phone, provider_id = (user.phone, user.provider_id) if takes_codes else (None, None)
    db.session.commit()
    if takes_codes:
        background.later("sms", _text_code, phone, provider_id, code)


def _no_code_for(user: User | None) -> bool:
    """Whether no recovery code is texted to this account now (besides its number's own delay):
    it took DAILY_WRONG_CODES wrong codes in the last day, or it signs in with SMS codes, when a
    code to the same phone would make the phone alone both factors (it recovers by email). Asked
    for a stranger too: the same statements."""
    spent = _codes_spent(user.id if user else 0)
    signs_in_by_sms = second_factor.texts_sign_in_codes(user)
    return spent or signs_in_by_sms


def _codes_spent(user_id: int) -> bool:
    """Whether the account took DAILY_WRONG_CODES wrong recovery codes in the last day. Then, for a
    day, no code is texted to it or accepted for it, the right one included; the pages answer as
    for a wrong code (a stranger learns nothing), and the email link still works."""
    return db.session.execute(select(func.count()).select_from(AuthEvent).where(
        AuthEvent.user_id == user_id, AuthEvent.event == "recovery_code_failed",
        AuthEvent.created_at >= utcnow() - timedelta(days=1))).scalar_one() >= DAILY_WRONG_CODES


def check_code(ticket: str, code: str) -> str:
    """The reset token for a right code; RecoveryError otherwise (a try is spent first)."""
    row, user = _live_code(ticket)
    limit = int(settings.get(CODE_ATTEMPTS))
    spent = db.session.execute(
        update(ResetCode).where(ResetCode.id == row.id, ResetCode.attempts < limit)
        .values(attempts=ResetCode.attempts + 1).returning(ResetCode.attempts)
    ).scalar_one_or_none()
    db.session.commit()
    if spent is None:
        raise RecoveryError(CODE_DEAD)
    right = passwords.verify_password(row.code_hash, (code or "").strip())
    if _codes_spent(user.id if user else 0) or not right or user is None:
        lockout.record_failure(None)
        log_auth("recovery_code_failed", user=user)
        db.session.commit()
        left = limit - spent
        raise RecoveryError(f"The code is not correct. {counted(left, 'try', 'tries')} left." if left else CODE_DEAD)
    # Spend the code: of two requests with it at once, only the one whose DELETE removed it goes on.
    if db.session.execute(delete(ResetCode).where(ResetCode.id == row.id)).rowcount != 1:
        db.session.rollback()
        raise RecoveryError(CODE_DEAD)
    token = new_token()
    db.session.execute(delete(RecoveryLink).where(RecoveryLink.user_id == user.id))
    db.session.add(RecoveryLink(user_id=user.id, token_hash=digest(token), purpose="sms",
                                expires_at=utcnow() + _minutes(CODE_MINUTES)))
    log_auth("recovery_code_accepted", user=user)
    db.session.commit()
    return token


def link_owner(token: str) -> User:
    """The account a live link belongs to; RecoveryError when the link is dead."""
    link = db.session.execute(
        select(RecoveryLink).where(RecoveryLink.token_hash == digest(token or ""))
    ).scalar_one_or_none()
    user = db.session.get(User, link.user_id) if link is not None else None
    if (user is None or link.expires_at < utcnow() or not user.can_sign_in
            or (user.password_changed_at and user.password_changed_at > link.created_at)):
        raise RecoveryError(LINK_INVALID)
    return user


def reset_password(token: str, password: str) -> User:
    """Set the new password through a live link; the link dies with every other one.

    The link is claimed first: of two requests with it at once, only the one whose DELETE removed
    it goes on (a rejected password rolls the claim back, so the link still works)."""
    user = link_owner(token)
    if db.session.execute(delete(RecoveryLink).where(RecoveryLink.token_hash == digest(token))).rowcount != 1:
        db.session.rollback()
        raise RecoveryError(LINK_INVALID)
    password_change.set_new_password(user, password, "password_reset")
    return user


def _erase(user_ids: UserIds) -> int:
    links = db.session.execute(delete(RecoveryLink).where(RecoveryLink.user_id.in_(user_ids)))
    codes = db.session.execute(delete(ResetCode).where(ResetCode.user_id.in_(user_ids)))
    db.session.flush()
    return links.rowcount + codes.rowcount


register(PersonalData("recovery_link_and_code", {"token_hash": "erased", "code_hash": "erased"}, _erase,
                      NotExported("only hashes of password-reset links and codes")))
