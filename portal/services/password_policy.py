"""The password policy staff set: length, composition, blocklists and history, checked rule by rule."""

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import PasswordHistory
from portal.services import passwords, settings
from portal.services.errors import DomainError
from portal.services.personal_data import NotExported, PersonalData, UserIds, register

HARD_MAX_LENGTH = 1024  # what any form accepts; argon2 hashes every byte, nothing is truncated
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"

MIN_LENGTH = settings.define("password.min_length", 12, "Minimum length", bounds=(8, 128))
MAX_LENGTH = settings.define("password.max_length", 128, "Maximum length (at least 128)",
                             bounds=(128, HARD_MAX_LENGTH))
REQUIRE_LOWER = settings.define("password.require_lower", False, "Lowercase letters required")
REQUIRE_UPPER = settings.define("password.require_upper", False, "Uppercase letters required")
REQUIRE_DIGIT = settings.define("password.require_digit", False, "Numbers required")
REQUIRE_SPECIAL = settings.define("password.require_special", False,
                                  "Special characters (such as ! or $) required")
BLOCK_COMMON = settings.define("password.block_common", True, "Refuse common passwords")
BLOCK_PERSONAL = settings.define("password.block_personal", True,
                                 "Refuse the user's own login, email and name")
HISTORY = settings.define("password.history", 5, "Previous passwords that may not be reused", bounds=(0, 24))
KEYS = [MIN_LENGTH, MAX_LENGTH, REQUIRE_LOWER, REQUIRE_UPPER, REQUIRE_DIGIT, REQUIRE_SPECIAL,
        BLOCK_COMMON, BLOCK_PERSONAL, HISTORY]


class PasswordRejected(DomainError):
    """The new password breaks a rule; `message` says which."""


@dataclass(frozen=True)
class Rule:
    """One rule as the user sees it: a label for the live list and the message when it fails."""

    label: str
    ok: bool
    message: str


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped blocklist (see portal/data/common-passwords.SOURCE.md)."""
    return frozenset(COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").split("\n")) - {""}


def is_common(password: str) -> bool:
    """On the list as typed, or once digits and symbols around it are stripped ("Password123!")."""
    lowered = password.lower()
    core = lowered.strip(string.digits + string.punctuation + string.whitespace)
    return lowered in common_passwords() or (len(core) >= 3 and core in common_passwords())


def _personal_words(login: str, email: str, name: str) -> set[str]:
    email = (email or "").lower()
    words = {(login or "").lower(), email, email.split("@")[0], (name or "").lower()}
    words.update((name or "").lower().split())
    return {word for word in words if len(word) >= 4}


def evaluate(password: str, login: str = "", email: str = "", name: str = "",
             provider_id: int | None = None) -> list[Rule]:
    """Every rule in force, held or not, for the live check and for enforcement."""
    def get(key):
        return settings.get(key, provider_id)

    low, high = settings.bounded(MIN_LENGTH, provider_id), settings.bounded(MAX_LENGTH, provider_id)
    rules = [
        Rule(f"At least {low} characters", len(password) >= low, f"Use at least {low} characters."),
        Rule(f"At most {high} characters", len(password) <= high, f"Use at most {high} characters."),
    ]
    composition = [
        (REQUIRE_LOWER, "A lowercase letter", any(c.islower() for c in password)),
        (REQUIRE_UPPER, "An uppercase letter", any(c.isupper() for c in password)),
        (REQUIRE_DIGIT, "A number", any(c.isdigit() for c in password)),
        (REQUIRE_SPECIAL, "A special character such as ! or $",
         any(not c.isalnum() and not c.isspace() for c in password)),
    ]
    for key, label, held in composition:
        if get(key):
            rules.append(Rule(label, held, f"Add {label[0].lower()}{label[1:]}."))
    if get(BLOCK_COMMON):
        rules.append(Rule("Not a common password", bool(password) and not is_common(password),
                          "This password is too common. Choose another."))
    if get(BLOCK_PERSONAL):
        lowered = password.lower()
        personal = any(word in lowered for word in _personal_words(login, email, name))
        rules.append(Rule("Not your login, email or name", bool(password) and not personal,
                          "Do not use your login, email or name in the password."))
    return rules


def first_broken(password: str, login: str = "", email: str = "", name: str = "",
                 provider_id: int | None = None) -> str | None:
    """The message of the first rule `password` breaks, or None."""
    return next((rule.message for rule in evaluate(password, login, email, name, provider_id)
                 if not rule.ok), None)


def enforce(password: str, user=None, login: str = "", email: str = "", name: str = "",
            provider_id: int | None = None) -> None:
    """Raise PasswordRejected with the first broken rule (history last, for a known user)."""
    if user is not None:
        login, email, name, provider_id = user.login, user.email, user.name, user.provider_id
    broken = first_broken(password, login, email, name, provider_id)
    if broken:
        raise PasswordRejected(broken)
    if user is not None and used_before(user, password):
        raise PasswordRejected("You used this password recently. Choose another.")


def _recent_hashes(user, count: int) -> list[str]:
    if count <= 0:
        return []
    return list(db.session.execute(
        select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc()).limit(count)
    ).scalars())


def used_before(user, password: str) -> bool:
    """True when `password` is one of the last N: the current one or N-1 remembered before it."""
    count = int(settings.get(HISTORY, user.provider_id))
    if count <= 0:
        return False
    hashes = {user.password_hash, *_recent_hashes(user, count - 1)} - {None}
    return any(passwords.verify_password(stored, password) for stored in hashes)


def remember_outgoing(user) -> None:
    """Before a new password is set: keep the outgoing hash, trimmed to N-1 (the caller commits)."""
    if user.password_hash is None:
        return
    keep_count = max(int(settings.get(HISTORY, user.provider_id)) - 1, 0)
    db.session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    db.session.flush()
    keep = select(PasswordHistory.id).where(PasswordHistory.user_id == user.id).order_by(
        PasswordHistory.id.desc()).limit(keep_count)
    db.session.execute(delete(PasswordHistory).where(
        PasswordHistory.user_id == user.id, PasswordHistory.id.not_in(keep.scalar_subquery())))


def _erase_history(user_ids: UserIds) -> int:
    result = db.session.execute(delete(PasswordHistory).where(PasswordHistory.user_id.in_(user_ids)))
    db.session.flush()
    return result.rowcount


register(PersonalData("password_history", {"password_hash": "erased"}, _erase_history,
                      NotExported("only hashes of your earlier passwords")))
