"""API test helpers: credentials headers and tokens made through /settings/security."""

import base64
import re


def basic(login, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def make_token(web, name="ci", days=30, scopes=("self.account", "client.order")):
    response = web.post_form("/settings/security/api-tokens", {"name": name, "days": days, "scopes": list(scopes),
                                                              "token_password": web.password},
                             page_url="/settings/security")
    match = re.search(r'class="api-token">(pt_[^<]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:3000]
    return match.group(1)
