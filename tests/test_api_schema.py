"""A bounded schemathesis run against /api/v1/openapi.json: whatever it sends, no 5xx comes back."""

from decimal import Decimal

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from portal.extensions import db
from portal.models import ProductType, Tariff
from tests.api_helpers import make_token
from tests.web import WebClient

EXAMPLES = 40


def test_openapi_describes_every_api_route(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    described = {("/api/v1" + path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes = {(rule.rule.replace("<int:user_id>", "{user_id}"), method)
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              and rule.endpoint != "api.openapi" for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert described == routes


def test_no_server_errors(make_app, factories):
    app = make_app(RATELIMIT_API_PER_IP="100000 per minute", RATELIMIT_LOGIN_PER_ACCOUNT="100000 per minute",
                   RATELIMIT_LOGIN_PER_IP="100000 per minute")
    factories.client_user(email="fuzz@example.com", password="client password 1")
    factories.staff(login="fuzzboss", password="staff password 1", full_access=True)
    factories.staff(login="victim", password="staff password 1")
    product = ProductType(name="Domain")
    product.tariffs = [Tariff(name=".com", price=Decimal("12.00"))]
    db.session.add(product)
    db.session.commit()
    client_web, staff_web = WebClient(app.test_client()), WebClient(app.test_client())
    client_web.login("fuzz@example.com", "client password 1")
    staff_web.login("fuzzboss", "staff password 1")
    credentials = [
        {},
        {"Authorization": f"Bearer {make_token(client_web)}"},
        {"Authorization": f"Bearer {make_token(staff_web, scopes=('self.account', 'admins.manage'))}"},
        {"Authorization": "Basic ZnV6ekBleGFtcGxlLmNvbTpjbGllbnQgcGFzc3dvcmQgMQ=="},  # fuzz@example.com
        {"Authorization": "Bearer pt_not-a-real-token"},
    ]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4

    for operation in operations:
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), headers=st.sampled_from(credentials))
        def no_5xx(case, headers):
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        no_5xx()
