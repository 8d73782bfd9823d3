"""Errors shared by the message backends."""


class DeliveryError(Exception):
    """A message could not be handed over; the text is safe to show to the user."""

    def __init__(self, message: str = "The message could not be sent. Please try again later."):
        super().__init__(message)
        self.message = message
