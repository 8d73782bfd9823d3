"""GDPR and compliance: consent documents and the consent gate, modules, Clear data, retention."""

from flask import Blueprint

from portal.services import consent, modules, retention
from portal.services.gates import Gate, register_gate
from portal.services.permissions import guard

bp = Blueprint("gdpr", __name__)
guard(bp, "self")
register_gate(Gate("consent", consent.needs_acceptance, "gdpr.accept_consents",
                   frozenset({"gdpr.read_document"})))


@bp.app_context_processor
def _partial_helpers():
    """Lazy helpers for the partials other pages include (client page, auth log, security)."""
    from portal.blueprints.gdpr.forms import RetentionForm

    return {
        "gdpr_clear_data_installed": lambda: modules.installed(modules.GDPR_CLEAR_DATA),
        "auth_log_retention": retention.summary,
        "retention_form": lambda: RetentionForm(days=retention.period_days()),
    }


from portal.blueprints.gdpr import (  # noqa: E402,F401
    clear_data,
    compliance,
    consent_documents,
    module_list,
)
