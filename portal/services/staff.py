"""Creating staff accounts."""


from portal.extensions import db
from portal.models import User, UserKind
from portal.services import identifiers, passwords
from portal.services.registration import default_provider


def create_staff(login: str, email: str, name: str = "", password: str | None = None,
                 full_access: bool = False) -> User:
    """A new staff member (flushed, not committed); without a password, none is set."""
    login, email = login.strip(), identifiers.fold(email)
    identifiers.check_staff_identifiers(login, email)
    identifiers.claim(login=login, email=email)
    user = User(
        provider_id=default_provider().id, kind=UserKind.STAFF, login=login, email=email,
        name=name or login, full_access=full_access,
    )
    if password is not None:
        passwords.set_password(user, password)
    db.session.add(user)
    db.session.flush()
    return user
