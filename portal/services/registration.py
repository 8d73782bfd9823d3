"""Client sign-up: the same answer for a known and an unknown email; the account exists once the link is used."""

import hmac
import logging
from datetime import timedelta

from flask import current_app, session
from limits import parse
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import Client, PendingRegistration, Provider, User, UserKind
from portal.models.base import utcnow
from portal.services import consent, counters, identifiers, password_policy, passwords
from portal.services.delivery import DeliveryError
from portal.services.errors import DomainError
from portal.services.events import log_auth
from portal.services.links import public_url
from portal.services.mail import send_mail
from portal.services.tokens import digest, new_token
from portal.wording import counted

log = logging.getLogger(__name__)

STARTED_HERE = "registration_started"  # the browser's session: the digest of its last link


class RegistrationLinkInvalid(DomainError):
    default_message = "This link is invalid or has expired. Please register again."


class RegistrationPasswordWrong(DomainError):
    default_message = "Enter the password you chose when you registered."

    def __init__(self):
        super().__init__(field="password")


def default_provider() -> Provider:
    """The provider new clients belong to (created on first use; when two workers' first requests
    race to create it, the one the unique index refuses takes the other's)."""
    find = select(Provider).where(Provider.is_default.is_(True))
    provider = db.session.execute(find).scalar_one_or_none()
    if provider is None:
        try:
            with db.session.begin_nested():
                provider = Provider(name="Default provider", is_default=True)
                db.session.add(provider)
        except IntegrityError:
            provider = db.session.execute(find).scalar_one()
    return provider


def request_registration(email: str, name: str, password: str,
                         consents: dict[int, bool] | None = None) -> None:
    """Email a confirmation link, or a notice if the address already has an account, and mark this
    browser as the one that asked for that link (alike for a known address: nothing to tell apart).
    Once the address's mail budget is spent, neither is sent, and the answer is the same.

    Raises PasswordRejected when the password breaks the policy (before anything is stored).
    `consents` maps consent-version ids to the form's decisions; they are logged on confirmation.
    """
    email = identifiers.fold(email)
    password_policy.enforce(password, login=email, email=email, name=name)
    password_hash = passwords.hash_password(password)  # spent in both branches alike
    existing = identifiers.find_account(email)
    if not _mail_budget_left(email):
        log_auth("register_mail_withheld", user=existing, login=email, detail="the address's mail budget is spent")
        db.session.commit()
        _remember_started_here(new_token())  # a link that does not exist, as below
        return
    if existing is not None:
        log_auth("register_existing", user=existing)
        db.session.commit()
        _remember_started_here(new_token())  # a link that does not exist
        # Someone's login: its owner's mailbox is elsewhere, but a mail is handed over all the
        # same (to that mailbox), or the time of the answer would tell a login from a free address.
        named, typed = (("address", "this email address") if existing.email == email
                        else ("login", f"your login {email}"))
        send_mail(existing.email, f"Someone tried to register with your {named}",
                  f"Somebody (perhaps you) tried to create an account with {typed}.\n"
                  "You already have an account. If you forgot your password, recover it here:\n"
                  f"{public_url('auth.recover')}\n")
        return
    token = new_token()
    hours = current_app.config["REGISTRATION_LINK_HOURS"]
    pending = PendingRegistration(
        token_hash=digest(token), email=email, name=name.strip(),
        password_hash=password_hash, expires_at=utcnow() + timedelta(hours=hours),
    )
    db.session.add(pending)
    db.session.flush()
    consent.remember_for_registration(pending, consents or {})
    log_auth("register_requested", login=email)
    db.session.commit()
    _remember_started_here(token)  # before sending, as for a known address: alike if delivery fails
    try:
        send_mail(email, "Confirm your registration",
                  # No name: anyone can type one and this address is not proven yet.
                  f"Hello,\n\nconfirm your registration by opening this link "
                  f"(valid {counted(hours, 'hour')}):\n{public_url('auth.confirm_registration', token=token)}\n\n"
                  "If you did not register, ignore this message.\n")
    except DeliveryError:
        # Nobody can use a link that was never sent: keep no password hash for it.
        db.session.delete(pending)
        db.session.commit()
        raise


def _mail_budget_left(email: str) -> bool:
    """Take one mail from the budget of the address typed (REGISTRATION_MAILS_PER_ADDRESS, a moving
    window in the shared counter store): requests from many IPs, each within its own limit and
    captcha, must not flood one mailbox. Counted by the folded address whether it names an account
    or not, so a spent budget tells nothing about accounts. With the store away the mail goes: the
    per-IP limit and the captcha still hold, and registration keeps working."""
    limit = parse(current_app.config["REGISTRATION_MAILS_PER_ADDRESS"])
    try:
        return MovingWindowRateLimiter(counters.storage()).hit(
            limit, current_app.config["RATELIMIT_KEY_PREFIX"], "registration-mail", email)
    except Exception as error:
        log.warning("counter store unavailable: a registration mail was not counted: %s", error)
        return True


def _remember_started_here(token: str) -> None:
    """This browser confirms that link alone in one click: not another sign-up for the same address,
    which a stranger may have made with a password of their own, nor its own earlier ones."""
    session[STARTED_HERE] = digest(token)


def _pending(token: str) -> PendingRegistration | None:
    pending = db.session.execute(
        select(PendingRegistration).where(PendingRegistration.token_hash == digest(token))
    ).scalar_one_or_none()
    return pending if pending is not None and pending.expires_at >= utcnow() else None


def _started_here(pending: PendingRegistration) -> bool:
    return hmac.compare_digest(session.get(STARTED_HERE, ""), pending.token_hash)


def needs_password(token: str) -> bool:
    """A link this browser did not ask for (last) asks for the password chosen at its sign-up."""
    pending = _pending(token)
    return pending is not None and not _started_here(pending)


def confirm_registration(token: str, password: str = "") -> User:
    """Create the client and its owner from a pending sign-up; the link works once.

    Anyone can register anyone's address, also while its owner does: confirmed from any browser but
    the one that asked for this very link, it also needs the password typed at its sign-up
    (RegistrationPasswordWrong), so the mailbox's owner cannot be led to confirm an account whose
    password, and consents, a stranger chose. Other sign-ups for the address stay live until one is
    confirmed: a stranger registering again cannot cancel the owner's."""
    pending = _pending(token)
    if pending is None:
        raise RegistrationLinkInvalid()
    if not _started_here(pending) and not passwords.verify_password(pending.password_hash, password or ""):
        raise RegistrationPasswordWrong()
    decisions = consent.pending_decisions(pending)  # read before the row goes
    # Claim the link (and the address's other links): of two requests using it at once, only the
    # one whose DELETE removed this row goes on; the other waits on the row lock, then finds it gone.
    claimed = db.session.execute(
        delete(PendingRegistration).where(PendingRegistration.email == pending.email)
        .returning(PendingRegistration.id)
    ).scalars().all()
    if pending.id not in claimed:
        db.session.rollback()
        raise RegistrationLinkInvalid()
    try:
        user = create_client_user(pending.email, pending.name, password_hash=pending.password_hash)
    except identifiers.AccountExists:
        db.session.commit()
        raise RegistrationLinkInvalid() from None
    consent.record_registration(user, decisions)
    log_auth("registered", user=user)
    return user


def create_client_user(email: str, name: str, password_hash: str | None,
                       client: Client | None = None) -> User:
    """A user of `client`, or of a new client it owns when none is given (flushed, not committed).
    Raises AccountExists when the email is already someone's login or email."""
    identifiers.claim(email=email)
    provider = client.provider if client is not None else default_provider()
    owns_new_client = client is None
    if owns_new_client:
        client = Client(provider=provider, name=name or email)
    user = User(
        provider_id=provider.id, kind=UserKind.CLIENT, client=client, login=email, email=email,
        name=name, password_hash=password_hash,
        password_changed_at=utcnow() if password_hash else None,
    )
    db.session.add_all([client, user])
    db.session.flush()
    if owns_new_client:
        client.owner_id = user.id
    return user
