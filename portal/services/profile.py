"""General settings: the user's own name and email (a client user's login follows the email)."""

import logging

from sqlalchemy import or_, select

from portal.extensions import db
from portal.models import User
from portal.models.base import folded
from portal.services.delivery import DeliveryError
from portal.services.events import log_audit
from portal.services.mail import send_mail

log = logging.getLogger(__name__)


class EmailTaken(Exception):
    message = "This email address belongs to another account."


def update_profile(user: User, name: str, email: str) -> dict:
    """Store a changed name and email, audit them, tell the old address. Returns the changes."""
    name, email = name.strip(), email.strip().lower()
    changes = {}
    if name != user.name:
        changes["name"] = [user.name, name]
        user.name = name
    old_email = user.email
    if email != old_email:
        clash = db.session.execute(select(User.id).where(
            User.id != user.id, or_(User.email == email, folded(User.login) == email))).first()
        if clash:
            raise EmailTaken()
        changes["email"] = [old_email, email]
        if not user.is_staff and user.login == old_email:
            changes["login"] = [user.login, email]
            user.login = email
        user.email = email
    if changes:
        log_audit("profile_changed", target=user, changes=changes)
    db.session.commit()
    if "email" in changes:
        try:
            send_mail(old_email, "Your email address was changed",
                      f"Hello {user.name or user.login},\n\nthe email address of your account is now "
                      f"{email}. If you did not change it, contact support at once.\n")
        except DeliveryError as error:
            log.error("email-change notice to user %s not sent: %s", user.id, error.message)
    return changes
