"""Argon2id passwords: hash, verify, rehash; an unknown or stale hash fails in a current verify's time."""

import secrets
import time
from collections import deque
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


# Seconds of this process's recent verifies with today's parameters, per parameter set: what a
# failed verify of an older, cheaper hash is padded to.
_recent_seconds: dict[tuple, deque] = {}


def _params(ph: PasswordHasher) -> tuple:
    return (ph.time_cost, ph.memory_cost, ph.parallelism)


def _timed_verify(ph: PasswordHasher, password_hash: str, password: str, current: bool) -> bool:
    """Verify and, for a hash with today's parameters (`current`), remember how long it took."""
    started = time.perf_counter()
    try:
        return ph.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    finally:
        if current:
            _recent_seconds.setdefault(_params(ph), deque(maxlen=16)).append(time.perf_counter() - started)


def _needs_rehash(ph: PasswordHasher, password_hash: str) -> bool:
    try:
        return ph.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def _spend_like_a_current_verify(ph: PasswordHasher, started: float) -> None:
    """Sleep until a failed verify of a stale hash has taken as long as one with today's
    parameters (a time drawn from this process's recent ones), so that the answer does not
    tell an account whose hash predates a parameter change from an unknown login."""
    if not _recent_seconds.get(_params(ph)):  # nothing measured yet in this process
        _timed_verify(ph, _dummy_hash(_params(ph)), "\0", current=True)
    recent = _recent_seconds[_params(ph)]
    time.sleep(max(0.0, secrets.choice(recent) - (time.perf_counter() - started)))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown account) or a stale one (older parameters), a
    failure takes as long as a verify with today's parameters."""
    ph = hasher()
    if password_hash is None:
        _timed_verify(ph, _dummy_hash(_params(ph)), password + "\0unknown", current=True)
        return False
    stale, started = _needs_rehash(ph, password_hash), time.perf_counter()
    if _timed_verify(ph, password_hash, password, current=not stale):
        return True
    if stale:
        _spend_like_a_current_verify(ph, started)
    return False


def set_password(user, password: str) -> None:
    """Store a new password hash on the user (the caller commits)."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()


def rehash_if_needed(user, password: str) -> None:
    """Upgrade the stored hash when the configured parameters changed."""
    if user.password_hash and hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
