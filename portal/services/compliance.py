"""The compliance page's live answers: consent, retention, staff 2FA, third-party transfers."""

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from portal.extensions import db
from portal.models import User, UserKind
from portal.models.base import utcnow
from portal.models.compliance import ConsentRecord
from portal.services import (
    auth_methods,
    captcha,
    consent,
    fraud,
    gdpr,
    retention,
    second_factor,
    settings,
    vonage_client,
)
from portal.wording import counted

PURGE_STALE_AFTER = timedelta(days=2)  # a daily timer that missed a day shows up
TRANSFER_BASES = [
    "Adequacy decision (e.g. EU–US Data Privacy Framework)",
    "Standard contractual clauses",
    "Binding corporate rules",
    "Explicit consent of the data subject",
    "No transfer outside the EEA",
]


@dataclass(frozen=True)
class ThirdParty:
    key: str
    name: str
    purpose: str

    @property
    def setting(self) -> str:
        return f"compliance.transfer_basis.{self.key}"

    def enabled(self, config) -> bool:
        """Switched on and configured: the portal really sends it personal data."""
        if self.key in ("google", "keycloak"):
            return auth_methods.enabled(self.key)
        if self.key == "vonage":  # texts, or line-type lookups (which go to Vonage whatever sends texts)
            lookups = settings.get(fraud.MOBILE_ONLY) and settings.get(fraud.LINE_TYPE_LOOKUP)
            return config.get("SMS_BACKEND") == "vonage" or bool(lookups and vonage_client.configured(config))
        return captcha.mode() == "recaptcha"


THIRD_PARTIES = [
    ThirdParty("google", "Google", "sign-in with Google (OAuth)"),
    ThirdParty("keycloak", "Keycloak", "single sign-on (OIDC)"),
    ThirdParty("vonage", "Vonage", "text messages (phone verification, 2FA), line-type lookups "
               "(Number Insight, if switched on in Fraud protection)"),
    ThirdParty("recaptcha", "reCAPTCHA", "bot protection on public forms"),
]
for _party in THIRD_PARTIES:
    settings.define(_party.setting, "", f"Data-transfer basis: {_party.name}")


@dataclass
class Answer:
    """One question: yes / no / unknown, what was found, and where to fix it."""

    question: str
    status: str
    summary: str
    fix_endpoint: str | None = None
    details: list[str] = field(default_factory=list)


def consent_answer() -> Answer:
    in_force = consent.current_versions()
    required = [v for d, v in in_force if d.required]
    decisions = db.session.execute(select(func.count(ConsentRecord.id))).scalar_one()
    if not required:
        return Answer("Is consent collected and documented?", "no",
                      "No required document (privacy policy, user agreement) is in force.",
                      "gdpr.consent_documents")
    lacking = db.session.execute(select(func.count(User.id)).where(
        User.kind == UserKind.CLIENT, User.is_active_account.is_(True),
        or_(*[~consent.accepted_now(v) for v in required]),
    )).scalar_one()
    details = [f"{d.title} version {v.number} ({'required' if d.required else 'optional'}), "
               f"in force since {v.effective_at:%Y-%m-%d}" for d, v in in_force]
    return Answer("Is consent collected and documented?", "yes",
                  f"{counted(len(in_force), 'document')} in force, {counted(decisions, 'decision')} "
                  f"in the consent log; {counted(lacking, 'active user')} will be asked for the current "
                  "versions at their next login.",
                  "gdpr.consent_documents", details)


def retention_answer() -> Answer:
    question = "Is a retention period set, and has the purge run?"
    days, last = retention.period_days(), retention.last_run()
    fix = "admin.security_settings"
    if days <= 0:
        return Answer(question, "no", "No auth-log retention period is set: rows are kept forever (the "
                      "auth log, ended sessions, expired sign-ups, links and codes, unverified phone "
                      "verifications, revoked or expired API tokens).", fix)
    if last is None:
        return Answer(question, "no", f"The period is {counted(days, 'day')}, but `purge-auth-log` has never "
                      "run; schedule it (see the README).", fix)
    when = f"{last.finished_at:%Y-%m-%d %H:%M} UTC ({counted(last.rows_deleted, 'row')} deleted)"
    details = [f"Deleted per table: {retention.listed(last.rows_by_table)}"] if last.rows_by_table else []
    if utcnow() - last.finished_at > PURGE_STALE_AFTER:
        return Answer(question, "no", f"The period is {counted(days, 'day')}, but the purge last ran {when}; "
                      "is its timer still on?", fix, details)
    return Answer(question, "yes", f"The period is {counted(days, 'day')}; the purge last ran {when}.",
                  fix, details)


def staff_2fa_answer() -> Answer:
    question = "Is two-factor sign-in enforced for staff?"
    required = settings.get(auth_methods.STAFF_2FA_REQUIRED)
    offered = auth_methods.enabled(second_factor.STAFF_ENROLS)
    fix = "admin.auth_methods_default"
    staff = db.session.execute(select(User).where(
        User.kind == UserKind.STAFF, User.is_active_account.is_(True),
        User.access_denied.is_(False))).scalars().all()
    lacking = len(second_factor.without_second_factor(staff))
    if not required:
        return Answer(question, "no", f"Staff 2FA is switched off; {lacking} staff members have "
                      "no second factor.", fix)
    if not offered:
        return Answer(question, "no", "Staff 2FA is required, but TOTP (the authenticator app staff enrol) "
                      f"is switched off, so nobody can enrol; {lacking} staff members have none.", fix)
    return Answer(question, "yes", f"Staff 2FA is enforced; {lacking} staff members have not "
                  "enrolled yet and must do so right after their next login.", fix)


def transfer_bases() -> list[tuple[ThirdParty, bool, str]]:
    """(third party, enabled, recorded basis) for each provider the portal can call."""
    config = current_app.config
    return [(party, party.enabled(config), settings.get(party.setting)) for party in THIRD_PARTIES]


def record_transfer_basis(key: str, basis: str) -> None:
    """Store staff's recorded legal basis for one provider (audited); the caller commits."""
    party = next(p for p in THIRD_PARTIES if p.key == key)
    settings.update({party.setting: basis})


def providers_answer() -> Answer:
    rows = transfer_bases()
    on = [(p, basis) for p, enabled, basis in rows if enabled]
    missing = [p.name for p, basis in on if not basis]
    details = [f"{p.name}: {'on' if enabled else 'off'}; basis: {basis or 'not recorded'}"
               for p, enabled, basis in rows]
    question = "Which third-party providers are on, and is their data-transfer basis recorded?"
    if missing:
        return Answer(question, "no", f"No transfer basis recorded for {', '.join(missing)}.",
                      "gdpr.compliance", details)
    if not on:
        return Answer(question, "yes", "No third-party provider is on: no personal data leaves the "
                      "portal.", "gdpr.compliance", details)
    return Answer(question, "yes", f"Providers on: {', '.join(p.name for p, _ in on)}; every basis "
                  "is recorded.", "gdpr.compliance", details)


def clear_data_answer() -> Answer:
    question = "Has every Clear data run to its end?"
    stalled = [job for job in gdpr.unfinished_jobs() if utcnow() - job.created_at > gdpr.STALLED_AFTER]
    if not stalled:
        return Answer(question, "yes", "No Clear data has been left unfinished.")
    details = [f"Client #{job.client_id}: {job.done_users} of {counted(job.total_users, 'user')} erased, "
               f"started {job.created_at:%Y-%m-%d %H:%M} UTC" for job in stalled]
    return Answer(question, "no", f"{len(stalled)} Clear data stopped before its end: the accounts are "
                  "closed, but personal data is still there. Open its progress page again or run "
                  "`finish-clear-data` (see the README).", None, details)


def answers() -> list[Answer]:
    return [consent_answer(), retention_answer(), staff_2fa_answer(), providers_answer(),
            clear_data_answer()]
