"""Signing up in tests: the registration form filled and sent, as a visitor would."""


def register(web, email="new@example.com", name="New Person", password="new password 1", confirm=None,
             **fields):
    """Post /register (`confirm` defaults to `password`; `fields` add others, such as consents)."""
    return web.post_form("/register", {"email": email, "name": name, "password": password,
                                       "confirm": confirm or password, **fields})
