"""The sign-in methods' personal data (secrets bound to a person, linked accounts), for GDPR erasure."""

from portal.models import ApiToken, OAuthLink, RecoveryCode, SecondFactor, SignInCode, TempKey
from portal.services.personal_data import PersonalData, deleter, register

TABLES = {
    SecondFactor: {"secret": "erased (TOTP secret)", "kind": "erased"},
    RecoveryCode: {"code_hash": "erased"},
    SignInCode: {"code_hash": "erased"},
    TempKey: {"key_hash": "erased", "used_at": "erased"},
    OAuthLink: {"issuer": "erased", "subject": "erased", "email": "erased"},
    ApiToken: {"name": "erased", "token_hash": "erased", "last_used_ip": "erased", "scopes": "erased"},
}

for _model, _fields in TABLES.items():
    register(PersonalData(_model.__tablename__, _fields, deleter(_model)))
