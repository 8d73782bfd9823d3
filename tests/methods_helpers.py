"""Helpers of the sign-in method tests: enrol TOTP through the pages, read codes like a person would."""

import re

import pyotp
from sqlalchemy import select

from portal.extensions import db
from portal.models import SecondFactor


def enrol_totp(web, password: str) -> tuple[str, list[str]]:
    """Set up an authenticator app in /settings/security; returns (secret, recovery codes)."""
    web.post_form("/settings/security/totp/begin", {}, page_url="/settings/security")
    page = web.get("/settings/security").get_data(as_text=True)
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert 'src="data:image/svg+xml' in page  # the QR code is drawn by the portal
    response = web.post_form("/settings/security/totp/confirm",
                             {"current_password": password, "code": pyotp.TOTP(secret).now()},
                             page_url="/settings/security")
    body = response.get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", body)
    assert len(codes) == 10, body[:3000]
    return secret, codes


def next_totp(secret: str, user_id: int) -> str:
    """The code of the step after the last one used: still inside the +-1 step window, and
    not a replay (an authenticator shows it at most 30 seconds later)."""
    db.session.expire_all()
    factor = db.session.execute(select(SecondFactor).where(
        SecondFactor.user_id == user_id, SecondFactor.kind == "totp")).scalar_one()
    return pyotp.TOTP(secret).generate_otp(factor.last_step + 1)
