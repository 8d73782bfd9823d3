"""The sign-in methods' personal data (secrets bound to a person, linked accounts), for GDPR export and erasure."""

from portal.models import ApiToken, OAuthLink, RecoveryCode, SecondFactor, SignInCode, TempKey
from portal.services.data_export import user_rows
from portal.services.personal_data import NotExported, PersonalData, deleter, register

TABLES = {  # model: (fields and what erasure does, what the export hands over or why nothing)
    SecondFactor: ({"secret": "erased (TOTP secret)", "kind": "erased"},
                   lambda user: user_rows(SecondFactor, user, "kind", "created_at", "confirmed_at")),
    RecoveryCode: ({"code_hash": "erased"}, NotExported("only hashes of your recovery codes")),
    SignInCode: ({"code_hash": "erased"}, NotExported("only hashes of the sign-in codes texted to you")),
    TempKey: ({"key_hash": "erased", "used_at": "erased"},
              NotExported("only hashes of one-time sign-in keys issued by the operator")),
    OAuthLink: ({"issuer": "erased", "subject": "erased", "email": "erased"},
                lambda user: user_rows(OAuthLink, user, "provider", "email", "created_at", "last_login_at")),
    ApiToken: ({"name": "erased", "token_hash": "erased", "last_used_ip": "erased", "scopes": "erased"},
               lambda user: user_rows(ApiToken, user, "name", "scopes", "created_at", "expires_at",
                                      "last_used_at", "last_used_ip", "revoked_at")),
}

for _model, (_fields, _export) in TABLES.items():
    register(PersonalData(_model.__tablename__, _fields, deleter(_model), _export))
