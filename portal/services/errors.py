"""The base of the services' domain errors: a refusal whose message is safe to show."""


class DomainError(Exception):
    """Raised by a service; the view shows `message` next to the field or as a notice."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
