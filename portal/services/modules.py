"""Optional modules staff install and uninstall (Integration → Modules)."""

from dataclasses import dataclass

from sqlalchemy import select

from portal.extensions import db
from portal.models.compliance import ErasureJob
from portal.services import settings
from portal.services.errors import DomainError


class ModuleError(DomainError):
    """A module change that is refused."""


@dataclass(frozen=True)
class Module:
    key: str
    title: str
    description: str
    uninstalling: str  # what uninstalling takes away, asked before it is done

    @property
    def setting(self) -> str:
        return f"modules.{self.key}"


GDPR_CLEAR_DATA = Module(
    "gdpr_clear_data", "GDPR client data cleaning",
    "Adds Clear data to each client: a field-by-field preview, then deactivation and "
    "anonymization of the client and all its users, with a receipt in the audit log.",
    "Clear data disappears from client cards until the module is installed again.",
)
MODULES = [GDPR_CLEAR_DATA]
for _module in MODULES:
    settings.define(_module.setting, False, f"Module installed: {_module.title}")


def get(key: str) -> Module | None:
    return next((m for m in MODULES if m.key == key), None)


def installed(module: Module) -> bool:
    return bool(settings.get(module.setting))


def install(module: Module) -> None:
    """Turn the module on (audited); the caller commits."""
    settings.update({module.setting: True}, audit_action="module_installed")


def uninstall(module: Module) -> None:
    """Turn the module off; refused while one of its jobs is unfinished."""
    if module is GDPR_CLEAR_DATA and db.session.execute(
        select(ErasureJob.id).where(ErasureJob.finished_at.is_(None)).limit(1)
    ).first():
        raise ModuleError("A Clear data job is still running; let it finish first.")
    settings.update({module.setting: False}, audit_action="module_uninstalled")
