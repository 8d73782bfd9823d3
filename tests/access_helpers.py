"""Helpers of the access-control tests: staff holding chosen functions, signed in in their own browser."""

from werkzeug.routing.converters import AnyConverter, NumberConverter

from portal.extensions import db
from portal.models.access import UserFunction
from tests.web import WebClient

PASSWORD = "staff password 1"


def staff_with(factories, *codes, login=None, **fields):
    """A staff member who holds exactly `codes` (as own functions) besides the baseline."""
    user = factories.staff(login=login, password=PASSWORD, **fields)
    db.session.add_all(UserFunction(user_id=user.id, code=code) for code in codes)
    db.session.commit()
    return user


def browser(app, login=None, password=PASSWORD) -> WebClient:
    """A separate browser (its own cookies), signed in when `login` is given."""
    web = WebClient(app.test_client())
    if login is not None:
        web.login(login, password)
    return web


# A string argument (a token, a key) stands for a secret nobody has here.
STRING_ARGUMENT = "unknown-secret-value"


def rule_url(rule, ids: dict) -> str:
    """A URL of `rule`: numbers from `ids` (else 1), the first choice of an `any`, else a secret nobody has."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, NumberConverter):
            values[name] = ids.get(name, 1)
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = STRING_ARGUMENT
    return rule.build(values, append_unknown=False)[1]
