"""The base of the services' domain errors: a refusal whose message is safe to show."""


class DomainError(Exception):
    """Raised by a service; the view shows `message` next to the form field `field` (or as a
    notice when there is none). A subclass with one fixed text sets `default_message`."""

    default_message = ""

    def __init__(self, message: str | None = None, field: str | None = None):
        self.message = message or self.default_message
        self.field = field
        super().__init__(self.message)
