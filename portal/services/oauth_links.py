"""Google and Keycloak accounts linked to a portal account: listed in Security settings, linked and
unlinked only after the current password, announced by email, and dropped by a password reset."""

from flask import session
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import OAuthLink, User
from portal.models.base import utcnow
from portal.services import auth_methods, reauth
from portal.services.errors import DomainError
from portal.services.events import log_auth
from portal.services.links import public_url
from portal.services.notices import send_notice
from portal.services.oauth_signin import PROVIDERS

LINKING = "oauth_link"  # the browser session's key while a link waits for its provider's callback


class LinkRefused(DomainError):
    """A link or unlink that is not allowed; the message says why."""


def provider_for(user: User) -> str:
    """The one provider an account can link: Keycloak for staff, Google for clients."""
    return "keycloak" if user.is_staff else "google"


def can_link(user: User) -> bool:
    return auth_methods.enabled(provider_for(user), user.provider_id)


def links_of(user: User) -> list[OAuthLink]:
    return list(db.session.execute(select(OAuthLink).where(OAuthLink.user_id == user.id)
                                   .order_by(OAuthLink.created_at)).scalars())


def begin(user: User, provider: str, password: str) -> None:
    """The current password first: a session alone, stolen or left open, must not attach a
    stranger's Google or Keycloak account (it would survive the owner's password change).
    Then this browser may finish one link with the provider's callback."""
    if provider != provider_for(user) or not can_link(user):
        raise LinkRefused(f"{PROVIDERS[provider]} cannot be linked to this account.")
    reauth.check_current_password(user, password, "oauth_link_refused", provider)
    session[LINKING] = {"provider": provider, "uid": user.id}


def awaited(user: User, provider: str) -> bool:
    """This callback finishes the link `begin` allowed in this browser (once)."""
    return session.pop(LINKING, None) == {"provider": provider, "uid": user.id}


def announce(user: User, provider: str) -> None:
    """Tell the owner by email, so a link they did not make does not go unseen (the caller commits)."""
    name = PROVIDERS[provider]
    send_notice(user, f"{name} was linked to your account",
                f"a {name} account was linked to your account {user.login} on {utcnow():%Y-%m-%d %H:%M} UTC; "
                f"it can now sign in as you.\n\nIf this was not you, unlink it in Security settings "
                f"({public_url('settings.security')}) or reset your password, which removes every link:\n"
                f"{public_url('auth.recover')}\n")


def unlink(user: User, link_id: int, password: str) -> bool:
    """Remove one of the user's own links (logged) after the current password, as linking: a session
    alone, stolen or left open, must not take away the owner's way in through their provider.
    False if it is not theirs. An account without a password unlinks nothing until it has one (so
    it keeps its last link, its way in). The caller commits."""
    row = db.session.get(OAuthLink, link_id)
    if row is None or row.user_id != user.id:
        return False
    reauth.check_current_password(user, password, "oauth_unlink_refused", row.provider)
    db.session.delete(row)
    log_auth("oauth_unlinked", user=user, detail=row.provider)
    name = PROVIDERS[row.provider]
    send_notice(user, f"{name} was unlinked from your account",
                f"a {name} account was unlinked from your account {user.login} on {utcnow():%Y-%m-%d %H:%M} UTC; "
                f"it no longer signs in as you.\n\nIf this was not you, someone signed in to your account knows "
                f"your password: reset it now, which signs every session out:\n{public_url('auth.recover')}\n")
    return True


def drop_all(user: User) -> int:
    """A password reset is how an owner takes the account back: no linked account stays in."""
    return db.session.execute(delete(OAuthLink).where(OAuthLink.user_id == user.id)).rowcount
