"""How the core tables' personal data is erased, registered for GDPR clear data.

Each eraser takes the ids of the users being cleared, flushes and never commits; the clear-data
job runs them in one transaction per batch of users, `audit_event`, `client` and `user` last (the
others still need the users' emails and phones, and the earlier ones in the audit trail, to find
their rows: `erased_names`).
"""

import re

from sqlalchemy import String, cast, delete, func, literal, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AuthEvent,
    Client,
    OutboxMessage,
    PendingEmailChange,
    PendingRegistration,
    User,
    UserSession,
)
from portal.models.base import folded
from portal.models.compliance import ConsentRecord
from portal.services import data_export
from portal.services.erased_names import ERASED, PLACEHOLDER_DOMAIN, identifiers
from portal.services.personal_data import NotExported, PersonalData, UserIds, register

ERASED_NAME = "Erased user"
# Keys of recorded changes whose values are about a person, whatever they mention (old emails...).
PERSONAL_KEYS = {"email", "login", "name", "phone", "address", "ip", "agent", "birth"}
KEPT_BILLING = "kept: Art. 17(3)(b) GDPR, accounting and tax law; linked to the anonymized client"


class random_hex(FunctionElement):
    """32 random hexadecimal digits, drawn by the database for each row."""

    type = String()
    inherit_cache = True


@compiles(random_hex)
def _random_hex(element, compiler, **kw):
    return "lower(hex(randomblob(16)))"


@compiles(random_hex, "postgresql")
def _random_hex_postgresql(element, compiler, **kw):
    return "replace(gen_random_uuid()::text, '-', '')"  # 122 random bits


def placeholder_email():
    """A unique, random address: not derived from the original, so nothing can be matched back."""
    return literal("erased-", String) + random_hex() + literal("@" + PLACEHOLDER_DOMAIN, String)


def client_placeholder():
    return literal("Erased client #", String) + cast(Client.id, String)


def _erase_users(user_ids: UserIds) -> int:
    erased = (User.email.endswith("@" + PLACEHOLDER_DOMAIN) & (User.name == ERASED_NAME)
              & User.password_hash.is_(None) & User.phone.is_(None))
    return db.session.execute(
        update(User).where(User.id.in_(user_ids), ~erased)
        .values(email=placeholder_email(), login=placeholder_email(), name=ERASED_NAME,
                password_hash=None, password_changed_at=None, phone=None, phone_verified_at=None,
                locked_until=None, is_active_account=False, failed_logins=0)
        .execution_options(synchronize_session="fetch")
    ).rowcount


def _erase_clients(user_ids: UserIds) -> int:
    return anonymize_clients(select(User.client_id).where(User.id.in_(user_ids)))


def anonymize_clients(client_ids) -> int:
    """Rename and deactivate the clients (ids or a select of ids) not yet anonymized."""
    return db.session.execute(
        update(Client).where(Client.id.in_(client_ids), Client.name != client_placeholder())
        .values(name=client_placeholder(), is_active=False)
        .execution_options(synchronize_session=False)
    ).rowcount


def _erase_sessions(user_ids: UserIds) -> int:
    return db.session.execute(
        delete(UserSession).where(UserSession.user_id.in_(user_ids))
        .execution_options(synchronize_session=False)
    ).rowcount


def _erase_auth_log(user_ids: UserIds) -> int:
    cleared = {"login": None, "ip": None, "user_agent": None, "detail": None}
    personal = or_(AuthEvent.login.is_not(None), AuthEvent.ip.is_not(None),
                   AuthEvent.user_agent.is_not(None), AuthEvent.detail.is_not(None))
    rows = db.session.execute(
        update(AuthEvent).where(AuthEvent.user_id.in_(user_ids), personal).values(cleared)
        .execution_options(synchronize_session=False)
    ).rowcount
    names = identifiers(user_ids)
    if names:  # rows naming them without an account: the registration, a login typed with an old email
        rows += db.session.execute(
            update(AuthEvent).where(AuthEvent.user_id.is_(None),
                                    names.naming(folded(AuthEvent.login), AuthEvent.created_at))
            .values(cleared).execution_options(synchronize_session=False)
        ).rowcount
    return rows


def _is_personal(key: str) -> bool:
    """True for keys like "email", "phone_number", "user_agent", "billing address"."""
    return bool(PERSONAL_KEYS & set(re.split(r"[^a-z0-9]+", key.lower())))


def _scrub(value, names: set[str], personal: bool = False):
    """`value` with every string under a personal key, or mentioning one of `names`, replaced."""
    if isinstance(value, str):
        lowered = value.lower()
        return ERASED if personal or any(name in lowered for name in names) else value
    if isinstance(value, list):
        return [_scrub(item, names, personal) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, names, personal or _is_personal(key))
                for key, item in value.items()}
    return value


def _erase_audit_log(user_ids: UserIds) -> int:
    client_ids = select(User.client_id).where(User.id.in_(user_ids))
    names = identifiers(user_ids).all() | {
        name.lower() for name in db.session.execute(
            select(User.name).where(User.id.in_(user_ids))).scalars() if name != ERASED_NAME
    } | {name.lower() for name in db.session.execute(
        select(Client.name).where(Client.id.in_(client_ids))).scalars()}
    acted = set(db.session.execute(select(User.id).where(User.id.in_(user_ids))).scalars())
    rows = db.session.execute(select(AuditEvent).where(or_(
        AuditEvent.actor_id.in_(user_ids),
        (AuditEvent.target_type == "user") & AuditEvent.target_id.in_(user_ids),
        (AuditEvent.target_type == "client") & AuditEvent.target_id.in_(client_ids),
    ))).scalars()
    changed = 0
    for row in rows:
        before = (row.ip, row.actor_label, row.changes)
        if row.actor_id in acted:
            row.ip, row.actor_label = None, ERASED_NAME
        row.changes = _scrub(row.changes, {n for n in names if len(n) >= 3})
        changed += before != (row.ip, row.actor_label, row.changes)
    db.session.flush()
    return changed


def _erase_outbox(user_ids: UserIds) -> int:
    names = identifiers(user_ids)
    return db.session.execute(
        delete(OutboxMessage).where(names.naming(func.lower(OutboxMessage.recipient),
                                                 OutboxMessage.created_at))
        .execution_options(synchronize_session=False)
    ).rowcount


def _erase_pending_registrations(user_ids: UserIds) -> int:
    names = identifiers(user_ids)
    return db.session.execute(
        delete(PendingRegistration).where(names.naming(PendingRegistration.email,
                                                       PendingRegistration.created_at))
        .execution_options(synchronize_session=False)
    ).rowcount


def _erase_pending_email_changes(user_ids: UserIds) -> int:
    return db.session.execute(
        delete(PendingEmailChange).where(PendingEmailChange.user_id.in_(user_ids))
        .execution_options(synchronize_session=False)
    ).rowcount


def _erase_consent_ips(user_ids: UserIds) -> int:
    return db.session.execute(
        update(ConsentRecord).where(ConsentRecord.user_id.in_(user_ids), ConsentRecord.ip.is_not(None))
        .values(ip=None).execution_options(synchronize_session=False)
    ).rowcount


def _keep(user_ids: UserIds) -> int:
    """Billing records stay as they are: they name the client by id only."""
    return 0


for _entry in [
    PersonalData("pending_registration", {"email, name, password": "deleted (unfinished sign-ups)",
                                          "consent decisions": "deleted with them"},
                 _erase_pending_registrations,
                 NotExported("sign-ups not finished: they belong to no account yet")),
    PersonalData("outbox_message", {"recipient, subject, body": "deleted"}, _erase_outbox,
                 NotExported("the development outbox: copies of the messages sent to you, with their "
                             "links and codes, kept only while the console backends are on")),
    PersonalData("audit_event", {"IP, actor name": "erased where the user acted",
                                 "names, emails, phones in recorded changes": "replaced by [erased]",
                                 "action, time": "kept: the record of what staff did"},
                 _erase_audit_log,
                 NotExported("the staff's record of changes, which names other people too; the "
                             "changes made to your account show in the data above")),
    PersonalData("auth_event", {"login as typed, IP, user agent, detail": "erased",
                                "event, time": "kept, without a person, until the retention purge"},
                 _erase_auth_log, data_export.auth_events_of),
    PersonalData("user_session", {"sessions, remember cookies, IPs, user agents": "deleted"},
                 _erase_sessions, data_export.sessions_of),
    PersonalData("pending_email_change", {"new email address waiting for its link": "deleted"},
                 _erase_pending_email_changes, data_export.pending_email_change_of),
    PersonalData("consent_record", {"IP": "erased",
                                    "document, version, decision, time": "kept: proof of consent, "
                                    "Art. 7(1) GDPR, linked to the anonymized user"},
                 _erase_consent_ips, data_export.consents_of),
    PersonalData("billing", {"payments, invoices, expenses, orders (amounts, dates)": KEPT_BILLING},
                 _keep, data_export.billing_of),
    PersonalData("client", {"name": "replaced by “Erased client #id”", "client": "deactivated"},
                 _erase_clients, data_export.client_of),
    PersonalData("user", {"name": f"replaced by “{ERASED_NAME}”",
                          "email, login": "replaced by unique random placeholders (not a hash)",
                          "password": "removed", "phone": "erased",
                          "account": "deactivated: no way to sign in"},
                 _erase_users, data_export.account),
]:
    register(_entry)
