"""A client's name, changed by staff with "Edit clients" or by its users with "Edit the client profile"."""

from portal.models import Client
from portal.services.errors import DomainError
from portal.services.events import log_audit


class ClientClosed(DomainError):
    """The client's data was cleared (GDPR): its placeholder name stays."""


def rename(client: Client, name: str) -> bool:
    """Give the client `name` (spaces tidied), audited; False when it is the same. The caller commits."""
    if not client.is_active:
        raise ClientClosed("This client's data was cleared: its name cannot be changed.")
    name = " ".join(name.split())
    if name == client.name:
        return False
    log_audit("client_renamed", target=client, changes={"name": [client.name, name]})
    client.name = name
    return True
