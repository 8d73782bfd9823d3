"""Password hashing with argon2id: hash, verify, rehash, and a dummy verify for unknown logins."""

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from portal.models.base import utcnow


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hasher() -> PasswordHasher:
    """The argon2id hasher with the configured parameters."""
    cfg = current_app.config
    return _hasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])


@lru_cache(maxsize=4)
def _dummy_hash(params: tuple) -> str:
    return _hasher(*params).hash("dummy password for unknown accounts")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown account) spend the same time and fail."""
    ph = hasher()
    if password_hash is None:
        params = (ph.time_cost, ph.memory_cost, ph.parallelism)
        try:
            ph.verify(_dummy_hash(params), password + "\0unknown")
        except VerificationError:
            pass
        return False
    try:
        return ph.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(user, password: str) -> None:
    """Store a new password hash on the user (the caller commits)."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()


def rehash_if_needed(user, password: str) -> None:
    """Upgrade the stored hash when the configured parameters changed."""
    if user.password_hash and hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
