"""An authenticator set-up belongs to the browser that began it: shown and confirmed there alone.

The secret of a set-up waits in the database until it is confirmed. Were it offered on every
page of the account, a set-up begun with a stolen session would wait on the owner's Security
settings for them to scan, and the secret its thief has read would become the owner's second
factor. So the browser's session keeps the digest of the set-up it began (a new sign-in clears
it); code outside a request (the CLI, tests) has no browser to bind.
"""

from flask import has_request_context, session

from portal.models import SecondFactor
from portal.services.tokens import digest

KEY = "totp_setup"


def begun_here(factor: SecondFactor) -> None:
    """Remember that this browser began the set-up `factor` now holds."""
    if has_request_context():
        session[KEY] = digest(factor.secret)


def is_from_here(factor: SecondFactor) -> bool:
    """Whether this browser began the set-up `factor` holds (always, outside a request)."""
    return not has_request_context() or session.get(KEY) == digest(factor.secret)
