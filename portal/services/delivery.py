"""Errors shared by the message backends."""

from portal.services.errors import DomainError


class DeliveryError(DomainError):
    """A message could not be handed over; the text is safe to show to the user."""

    default_message = "The message could not be sent. Please try again later."
