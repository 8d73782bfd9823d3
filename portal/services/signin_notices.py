"""The owner is emailed when their account is signed in to from a browser it was not signed in from before."""

from portal.models import User
from portal.models.base import utcnow
from portal.services import devices, settings
from portal.services.events import request_facts
from portal.services.links import public_url
from portal.services.notices import send_notice

NEW_BROWSER = settings.define("signin.notify_new_browser", True, "Email the owner at a sign-in from a new browser")
KEYS = [NEW_BROWSER]

FIRST_FACTORS = {"password": "with the password", "google": "through Google", "keycloak": "through Keycloak",
                 "temp_key": "with a temporary key"}


def tell_owner_if_new_browser(user: User, method: str) -> None:
    """At a complete sign-in by `method` ("password", "password+totp", "google"...): a browser
    without the account's device cookie (never signed in to it, or not since every session was
    ended) is new, and the owner hears of it. A stolen password used from elsewhere does not go
    unseen. The notice holds no text from the request but its address (the user agent is the
    signer's to choose: it is shown in Security settings, not mailed). A new account's first
    sign-in is no news."""
    if method == "registration" or devices.known(user) or not settings.get(NEW_BROWSER, user.provider_id):
        return
    first, _plus, second = method.partition("+")
    how = FIRST_FACTORS.get(first, "")
    if second:
        how += " and a second factor"
    ip, _agent = request_facts()
    send_notice(user, "New sign-in to your account",
                f"your account {user.login} was signed in to {how} from a browser it was not signed in "
                f"from before, on {utcnow():%Y-%m-%d %H:%M} UTC from the address {ip}.\n\n"
                "If this was you, there is nothing to do. If it was not, reset your password now, which "
                f"signs every session out:\n{public_url('auth.recover')}\n\n"
                f"Security settings list the browsers signed in to your account:\n"
                f"{public_url('settings.security')}\n")
