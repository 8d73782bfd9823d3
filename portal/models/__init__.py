"""One SQLAlchemy model set; a module per area."""

from portal.models.access import AccessGroup, GroupFunction, UserFunction  # noqa: F401
from portal.models.accounts import (
    Client,
    PendingEmailChange,
    PendingRegistration,
    Provider,
    User,
    UserKind,
)
from portal.models.audit import AuditEvent
from portal.models.auth import AuthEvent, UserSession
from portal.models.billing import Expense, Order, Payment, ProductType, Tariff
from portal.models.compliance import (  # noqa: F401
    ConsentDocument,
    ConsentRecord,
    ConsentVersion,
    ErasureJob,
    PendingConsent,
    PurgeRun,
)
from portal.models.fraud import PhoneVerification
from portal.models.messaging import OutboxMessage, PendingNotice
from portal.models.methods import (  # noqa: F401
    ApiToken,
    KeycloakRoleMapping,
    OAuthLink,
    RecoveryCode,
    SecondFactor,
    SignInCode,
    TempKey,
)
from portal.models.passwords import PasswordHistory, RecoveryLink, ResetCode, SpentCaptcha  # noqa: F401
from portal.models.settings import Setting

__all__ = [
    "AuditEvent",
    "AuthEvent",
    "Client",
    "Expense",
    "Order",
    "OutboxMessage",
    "Payment",
    "PendingEmailChange",
    "PendingNotice",
    "PendingRegistration",
    "PhoneVerification",
    "ProductType",
    "Provider",
    "Setting",
    "Tariff",
    "User",
    "UserKind",
    "UserSession",
]
