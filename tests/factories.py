"""Test data made through the portal's own services, committed to the real database."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Setting
from portal.services import passwords
from portal.services.auth_methods import STAFF_2FA_REQUIRED
from portal.services.registration import create_client_user
from portal.services.staff import create_staff


class Factories:
    def __init__(self, app):
        self.app = app
        self._count = 0

    def _next(self) -> int:
        self._count += 1
        return self._count

    def client_user(self, email: str | None = None, password: str = "client password 1",
                    name: str = "Client User", client=None, **fields):
        """A client user; without `client`, the owner of a new client."""
        email = email or f"user{self._next()}@example.com"
        user = create_client_user(email, name, passwords.hash_password(password), client=client)
        for key, value in fields.items():
            setattr(user, key, value)
        db.session.commit()
        return user

    def staff(self, login: str | None = None, password: str = "staff password 1",
              full_access: bool = False, staff_2fa: bool = False, email: str | None = None, **fields):
        """A staff member; unless `staff_2fa`, the provider stops requiring staff 2FA so that
        tests of other areas sign staff in with a password alone."""
        login = login or f"staff{self._next()}"
        user = create_staff(login, email or f"{login}@staff.example.com", login.title(), password,
                            full_access=full_access)
        for key, value in fields.items():
            setattr(user, key, value)
        if not staff_2fa:
            self.set_setting(STAFF_2FA_REQUIRED, False, user.provider_id)
        db.session.commit()
        return user

    def set_setting(self, key: str, value, provider_id: int) -> None:
        """Store a run-time setting directly (test data, not an audited change)."""
        row = db.session.execute(select(Setting).where(
            Setting.provider_id == provider_id, Setting.key == key)).scalar_one_or_none()
        if row is None:
            db.session.add(Setting(provider_id=provider_id, key=key, value=value))
        else:
            row.value = value
        db.session.commit()
