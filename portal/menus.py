"""Navigation of both areas: an entry shows when the user holds its function."""

from dataclasses import dataclass


@dataclass(frozen=True)
class MenuItem:
    endpoint: str
    label: str
    function: str


CLIENT_MENU = [
    MenuItem("fraud.catalog", "Order", "client.order"),
    MenuItem("client.orders", "Orders", "client.order"),
    MenuItem("client.finance", "Finance", "client.finance"),
    MenuItem("client.users", "Users", "client.users"),
    MenuItem("client.profile", "Client profile", "client.profile"),
    MenuItem("settings.general", "General settings", "self.account"),
    MenuItem("settings.security", "Security", "self.account"),
]

ADMIN_MENU = [
    MenuItem("admin.clients", "Clients", "clients.view"),
    MenuItem("admin.users", "Users", "users.view"),
    MenuItem("admin.orders", "Orders", "orders.view"),
    MenuItem("admin.finance_balance", "Balance", "finance.balance"),
    MenuItem("admin.finance_payments", "Payments", "finance.payments"),
    MenuItem("admin.finance_expenses", "Expenses", "finance.expenses"),
    MenuItem("admin.finance_reports", "Reports", "finance.reports"),
    MenuItem("admin.administrators", "Administrators", "admins.view"),
    MenuItem("admin.access_permissions", "Access permissions", "admins.view"),
    MenuItem("admin.security_settings", "Security", "settings.security"),
    MenuItem("admin.auth_methods_default", "Sign-in methods", "settings.methods"),
    MenuItem("fraud.protection_settings", "Fraud protection", "settings.fraud"),
    MenuItem("gdpr.modules", "Modules", "settings.modules"),
    MenuItem("gdpr.consent_documents", "Consent", "settings.consent"),
    MenuItem("gdpr.compliance", "Compliance", "settings.consent"),
    MenuItem("admin.auth_log", "Auth log", "logs.auth"),
    MenuItem("admin.audit_log", "Audit log", "logs.audit"),
    MenuItem("settings.general", "My settings", "self.account"),
    MenuItem("settings.security", "My security", "self.account"),
]

