"""Consent: documents with versions, the consent log, the registration form's decisions, the gate."""

from datetime import UTC, datetime, time

from flask import g, has_request_context
from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.orm import aliased, selectinload

from portal.extensions import db
from portal.models import PendingRegistration, User
from portal.models.base import utcnow
from portal.models.compliance import ConsentDocument, ConsentRecord, ConsentVersion, PendingConsent
from portal.services.client_ip import client_ip
from portal.services.errors import DomainError
from portal.services.events import log_audit

ACCEPTED, DECLINED, WITHDRAWN = "accepted", "declined", "withdrawn"


class ConsentError(DomainError):
    """A consent change that is not allowed."""


# The consent gate reads both on every client request: built once, not per call.
DOCUMENTS = select(ConsentDocument).options(selectinload(ConsentDocument.versions)).order_by(ConsentDocument.id)
DECISIONS_OF_USER = (select(ConsentRecord).where(ConsentRecord.user_id == bindparam("user_id"))
                     .order_by(ConsentRecord.created_at, ConsentRecord.id))


def documents() -> list[ConsentDocument]:
    """Every document with its versions, oldest first."""
    return list(db.session.execute(DOCUMENTS).scalars())


def current_version(document: ConsentDocument, now: datetime | None = None) -> ConsentVersion | None:
    """The newest version already in effect."""
    now = now or utcnow()
    live = [v for v in document.versions if v.effective_at <= now]
    return max(live, key=lambda v: v.number) if live else None


def current_versions() -> list[tuple[ConsentDocument, ConsentVersion]]:
    """(document, version in effect) for every document that has one; once per request."""
    cache = g.get("_consent_current") if has_request_context() else None
    if cache is None:
        cache = [(d, v) for d in documents() if (v := current_version(d)) is not None]
        if has_request_context():
            g._consent_current = cache
    return cache


def create_document(title: str, required: bool) -> ConsentDocument:
    """A new document (no version yet); the caller commits."""
    title = title.strip()
    if db.session.execute(select(ConsentDocument.id).where(ConsentDocument.title == title)).first():
        raise ConsentError("A document with this title exists already.")
    document = ConsentDocument(title=title, required=required)
    db.session.add(document)
    db.session.flush()
    log_audit("consent_document_created", target=document,
              changes={"title": [None, title], "required": [None, required]})
    return document


def publish_version(document: ConsentDocument, text: str, effective_at: datetime) -> ConsentVersion:
    """Add the next version; from `effective_at` on it is the one users are asked for."""
    _check_effective(document, effective_at)
    number = max((v.number for v in document.versions), default=0) + 1
    version = ConsentVersion(document=document, number=number, text=text.strip(),
                             effective_at=effective_at)
    db.session.add(version)
    db.session.flush()
    log_audit("consent_version_published", target=document,
              changes={"version": [number - 1 or None, number],
                       "effective_at": [None, effective_at.isoformat()]})
    return version


def _check_effective(document: ConsentDocument, effective_at: datetime) -> None:
    """The consent log is evidence: a version cannot take effect in the past, nor before the one in force."""
    now = utcnow()
    if effective_at < datetime.combine(now.date(), time.min, tzinfo=UTC):
        raise ConsentError("The effective date cannot be in the past; choose today or a later day.",
                           field="effective")
    in_force = current_version(document, now)
    if in_force is not None and effective_at < in_force.effective_at:
        raise ConsentError(f"The effective date cannot be before that of version {in_force.number}, "
                           f"in force since {in_force.effective_at:%Y-%m-%d %H:%M} UTC.", field="effective")


def set_required(document: ConsentDocument, required: bool) -> None:
    if document.required != required:
        log_audit("consent_document_changed", target=document,
                  changes={"required": [document.required, required]})
        document.required = required


def recent_records(limit: int = 50) -> list[ConsentRecord]:
    """The consent log's newest decisions, for the documents page."""
    return list(db.session.execute(select(ConsentRecord).order_by(ConsentRecord.id.desc()).limit(limit)).scalars())


def latest_decisions(user: User) -> dict[int, ConsentRecord]:
    """The user's latest record per document (the current state of their consent)."""
    rows = db.session.execute(DECISIONS_OF_USER, {"user_id": user.id}).scalars()
    return {row.document_id: row for row in rows}


def accepted_now(version: ConsentVersion):
    """SQL, for a query over users: their latest decision on the version's document accepts this
    version (what `missing_required` reads, for all users at once)."""
    decision, later = aliased(ConsentRecord), aliased(ConsentRecord)
    return exists().where(
        decision.user_id == User.id, decision.version_id == version.id, decision.decision == ACCEPTED,
        ~exists().where(later.user_id == decision.user_id, later.document_id == decision.document_id,
                        or_(later.created_at > decision.created_at,
                            and_(later.created_at == decision.created_at, later.id > decision.id))))


def missing_required(user: User) -> list[tuple[ConsentDocument, ConsentVersion]]:
    """Required documents whose version in effect the user has not accepted."""
    required = [(d, v) for d, v in current_versions() if d.required]
    if not required:
        return []
    latest = latest_decisions(user)
    return [(d, v) for d, v in required
            if not (d.id in latest and latest[d.id].version_id == v.id
                    and latest[d.id].decision == ACCEPTED)]


def needs_acceptance(user: User) -> bool:
    """The consent gate: client users with a required version to accept reach nothing else."""
    return not user.is_staff and bool(missing_required(user))


def record(user: User, version: ConsentVersion, decision: str, when: datetime | None = None,
           ip: str | None = None) -> ConsentRecord:
    """Append one decision to the consent log; the caller commits."""
    row = ConsentRecord(user_id=user.id, document_id=version.document_id, version_id=version.id,
                        decision=decision, created_at=when or utcnow(),
                        ip=ip if ip is not None else _ip())
    db.session.add(row)
    return row


def accept_required(user: User, version_ids: set[int]) -> int:
    """Accept the missing required versions the user was shown (the gate's button)."""
    shown = [v for _d, v in missing_required(user) if v.id in version_ids]
    for version in shown:
        record(user, version, ACCEPTED)
    return len(shown)


def change_optional(user: User, document_id: int, give: bool) -> ConsentRecord:
    """Give or withdraw an optional consent, as easily one way as the other."""
    pair = next(((d, v) for d, v in current_versions() if d.id == document_id), None)
    if pair is None:
        raise ConsentError("This document does not exist.")
    document, version = pair
    if document.required and not give:
        raise ConsentError(f"The {document.title} is required to use the portal; "
                           "to withdraw it, ask us to close your account.")
    return record(user, version, ACCEPTED if give else WITHDRAWN)


def remember_for_registration(pending: PendingRegistration, decisions: dict[int, bool]) -> None:
    """Keep the registration form's decisions until the account exists."""
    now, ip = utcnow(), _ip()
    for version_id, accepted in decisions.items():
        db.session.add(PendingConsent(pending_registration_id=pending.id, version_id=version_id,
                                      decision=ACCEPTED if accepted else DECLINED,
                                      created_at=now, ip=ip))


def pending_decisions(pending: PendingRegistration) -> list:
    """The form's decisions as plain rows (they outlive the pending registration)."""
    return list(db.session.execute(
        select(PendingConsent.version_id, PendingConsent.decision, PendingConsent.created_at,
               PendingConsent.ip)
        .where(PendingConsent.pending_registration_id == pending.id)
    ).all())


def record_registration(user: User, decisions: list) -> None:
    """Log the decisions made on the registration form, with their time and address."""
    for item in decisions:
        version = db.session.get(ConsentVersion, item.version_id)
        record(user, version, item.decision, when=item.created_at, ip=item.ip)


def _ip() -> str | None:
    return client_ip() if has_request_context() else None
