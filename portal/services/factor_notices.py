"""The owner is emailed whenever their own second factors or API tokens change, so a change they did not make does not go unseen."""

from portal.models import User
from portal.models.base import utcnow
from portal.services.events import request_facts
from portal.services.links import public_url
from portal.services.notices import send_notice

# change -> (subject, what happened)
CHANGES = {
    "totp_added": ("An authenticator app was added to your account",
                   "an authenticator app was set up as a second factor"),
    "sms_added": ("SMS sign-in codes were turned on for your account",
                  "sign-in codes by SMS to your verified phone were turned on as a second factor"),
    "totp_removed": ("An authenticator app was removed from your account",
                     "the authenticator app was removed from your second factors"),
    "sms_removed": ("SMS sign-in codes were turned off for your account",
                    "sign-in codes by SMS were removed from your second factors"),
    "codes_renewed": ("New recovery codes were made for your account",
                      "new recovery codes were made, and the earlier ones no longer work"),
    "api_token_created": ("A new API token was created on your account",
                          "an API token was created, which opens the portal's API to whoever holds it"),
}


def tell_owner(user: User, change: str, second_factor_left: bool = True) -> None:
    """Mail `user` that `change` (a key of CHANGES) was made, from this request's address if any."""
    subject, what = CHANGES[change]
    ip, _agent = request_facts()
    where = f" from the address {ip}" if ip else ""
    alone = "" if second_factor_left else " Your password alone now signs you in."
    send_notice(user, subject,
                f"{what} on your account {user.login} on {utcnow():%Y-%m-%d %H:%M} UTC{where}.{alone}\n\n"
                "If this was not you, someone knows your password and is signed in. Reset your password "
                f"now, which signs every session out:\n{public_url('auth.recover')}\n\n"
                f"Then check your second factors and API tokens in Security settings:\n"
                f"{public_url('settings.security')}\n")
