"""Google (clients) and Keycloak (staff) over OIDC: accounts linked by (issuer, subject), never by email alone."""

import re

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.models import OAuthLink, User
from portal.models.base import utcnow
from portal.services import access, auth_methods, identifiers
from portal.services.errors import DomainError
from portal.services.events import log_audit, log_auth
from portal.services.identifiers import AccountExists, IdentifierRefused
from portal.services.registration import create_client_user, default_provider
from portal.services.staff import create_staff

PROVIDERS = {"google": "Google", "keycloak": "Keycloak"}
MFA_ACR = {"mfa", "multi-factor"}  # last parts of acr values meaning a second factor (OpenID PAPE)
MFA_AMR = {"mfa", "otp", "hwk", "swk", "sms", "fido", "totp"}  # RFC 8176 values meaning a second factor
REFUSED = ("We could not sign you in with {provider}. If you already have an account here, sign in "
           "with your password and link {provider} in Security settings.")


class OAuthRefused(DomainError):
    """A sign-in with Google or Keycloak that is refused; one message for every reason."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason  # for the auth log, never shown


def client(provider: str) -> FlaskOAuth2App:
    """Authlib's Flask OIDC client for this app (state, nonce and PKCE S256), built once per app."""
    clients = current_app.extensions.setdefault("portal.oidc_clients", {})
    if provider not in clients:
        prefix = provider.upper()
        cfg = current_app.config
        clients[provider] = FlaskOAuth2App(
            FlaskIntegration(provider), provider, client_id=cfg[f"{prefix}_CLIENT_ID"],
            client_secret=cfg[f"{prefix}_CLIENT_SECRET"], server_metadata_url=cfg[f"{prefix}_SERVER_METADATA_URL"],
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "timeout": 10})
    return clients[provider]


def verified_claims(provider: str) -> dict:
    """Finish the code flow of this callback (state, PKCE) and return the ID token's claims, checked
    for signature, issuer, audience, expiry and nonce; raises authlib's OAuthError or joserfc's JoseError."""
    app = client(provider)
    options = {"iss": {"essential": True, "values": [app.load_server_metadata()["issuer"]]},
               "aud": {"essential": True, "values": [app.client_id]}, "sub": {"essential": True}}
    claims = app.authorize_access_token(claims_options=options).get("userinfo")
    if not claims:
        raise OAuthError(description="the provider sent no ID token")
    return dict(claims)


def keycloak_roles(claims: dict) -> set[str]:
    """Realm roles as they are, client roles as "client-id:role"."""
    roles = set((claims.get("realm_access") or {}).get("roles") or [])
    for client_id, grants in (claims.get("resource_access") or {}).items():
        roles.update(f"{client_id}:{role}" for role in (grants or {}).get("roles") or [])
    return roles


def mfa_by_idp(claims: dict) -> bool:
    """An `amr` naming a second factor, a Keycloak level of 2 or more, or an `acr` whose last part
    is a multi-factor name ("urn:example:acr:mfa"; not merely containing it, as "no-mfa" does)."""
    amr = set(claims.get("amr") or [])
    acr = str(claims.get("acr") or "")
    last_part = re.split(r"[:/#]", acr.lower())[-1]
    return bool(amr & MFA_AMR) or (acr.isascii() and acr.isdigit() and int(acr) >= 2) or last_part in MFA_ACR


def _link_of(claims: dict) -> OAuthLink | None:
    return db.session.execute(select(OAuthLink).where(
        OAuthLink.issuer == claims["iss"], OAuthLink.subject == str(claims["sub"]))).scalar_one_or_none()


def _email(claims: dict) -> str | None:
    email = claims.get("email")
    return identifiers.fold(email) if isinstance(email, str) and "@" in email else None


def _display_name(claims: dict, default: str) -> str:
    """The provider's `name` claim as a name the account can hold (200 characters)."""
    return str(claims.get("name") or default).strip()[:User.name.type.length] or default


def _refuse(provider: str, reason: str, user: User | None = None):
    """Undo this sign-in's changes, log why, and refuse with one message for every reason."""
    user_id = user.id if user is not None else None
    db.session.rollback()
    user = db.session.get(User, user_id) if user_id else None
    log_auth("oauth_refused", user=user, detail=f"{provider}: {reason}"[:300])
    db.session.commit()
    raise OAuthRefused(REFUSED.format(provider=PROVIDERS[provider]), reason)


def link(user: User, provider: str, claims: dict) -> OAuthLink:
    """Attach the provider account to `user` (from inside the signed-in account). The caller commits."""
    existing = _link_of(claims)
    if existing is not None and existing.user_id != user.id:
        _refuse(provider, "linked to another account", user)
    row = existing or OAuthLink(user_id=user.id, provider=provider, issuer=claims["iss"], subject=str(claims["sub"]))
    row.email = _email(claims)
    db.session.add(row)
    log_auth("oauth_linked", user=user, detail=provider)
    return row


def sign_in(provider: str, claims: dict) -> User:
    """The account these verified ID-token claims open, created or linked when the rules allow."""
    row = _link_of(claims)
    user = db.session.get(User, row.user_id) if row else _first_login(provider, claims)
    if not user.can_sign_in or user.is_staff != (provider == "keycloak"):
        _refuse(provider, "account closed or of the other area", user)
    if provider == "keycloak":
        apply_roles(user, claims)
    row = row or link(user, provider, claims)
    row.email, row.last_login_at = _email(claims), utcnow()
    return user


def _first_login(provider: str, claims: dict) -> User:
    email, verified = _email(claims), claims.get("email_verified") is True
    if email is None or not verified:
        _refuse(provider, "no verified email")
    existing = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if existing is not None:  # only an account waiting for its first way in (an invited one)
        if existing.password_hash is not None:
            _refuse(provider, "email of an existing account with a password", existing)
        if db.session.execute(select(OAuthLink.id).where(OAuthLink.user_id == existing.id,
                                                         OAuthLink.issuer == claims["iss"])).first():
            _refuse(provider, "email of an account linked to another identity there", existing)
        return existing
    try:
        if provider == "google":
            user = create_client_user(email, _display_name(claims, ""), password_hash=None)
        else:
            if not _mapped(default_provider().id, claims):
                _refuse(provider, "no mapped role")  # nobody is created without a mapped role
            login = _staff_login(claims, email)
            user = create_staff(login, email, _display_name(claims, login))
            access.audit_created(user, actor_label="Keycloak")
    except AccountExists:
        _refuse(provider, "login or email taken")
    except IdentifierRefused as refusal:
        _refuse(provider, f"claims unfit for an account: {refusal.message}")
    log_auth("registered", user=user, detail=provider)
    return user


def _staff_login(claims: dict, email: str) -> str:
    """Keycloak's username if it can be a login here (ASCII), else the email's local part; a login
    neither gives is refused by create_staff."""
    candidates = [str(claims.get("preferred_username") or ""), email.split("@")[0]]
    return next((login for login in candidates if identifiers.LOGIN_SHAPE.fullmatch(login)),
                candidates[0] or candidates[1])


def _mapped(provider_id: int, claims: dict) -> list:
    roles = keycloak_roles(claims)
    return [m for m in auth_methods.role_mappings(provider_id) if m.role in roles]


def apply_roles(user: User, claims: dict) -> None:
    """Re-read the mapped roles at every login: a role removed in Keycloak is gone now."""
    mappings = _mapped(user.provider_id, claims)
    if not mappings:
        _refuse("keycloak", "no mapped role", user)
    full_access = any(m.full_access for m in mappings)
    group_ids = {m.access_group_id for m in mappings if m.access_group_id is not None}
    before = {"full_access": user.full_access, "access_groups": access.group_names_of(user)}
    user.full_access = full_access
    access.set_groups(user, group_ids)
    after = {"full_access": full_access, "access_groups": access.group_names_of(user)}
    if before != after:
        log_audit("keycloak_roles_applied", target=user, actor=user, actor_label="Keycloak",
                  changes={key: [before[key], after[key]] for key in before if before[key] != after[key]})
