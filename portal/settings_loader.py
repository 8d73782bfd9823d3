"""Configuration precedence: defaults, instance/config.py, PORTAL_* variables, test mapping."""

import os
import re
import secrets
from pathlib import Path

from flask import Config

# BILLmanager's spellings accepted in the instance file, mapped to our keys.
LEGACY_KEYS = {"PassExpirePeriod": "PASS_EXPIRE_PERIOD"}
MAX_PASS_EXPIRE_DAYS = 36500  # a century: any password's date plus this stays a valid date


def load_config(config: Config, instance_path: str, test_config=None) -> None:
    """Fill `config` in the documented order and derive what depends on it."""
    config.from_object("portal.config")
    _load_instance_file(config, Path(instance_path) / "config.py")
    config.from_prefixed_env("PORTAL")
    if test_config:
        config.from_mapping(test_config)
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(instance_path) / 'portal.sqlite'}"
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret_key(Path(instance_path))
    if str(config["PUBLIC_URL"]).startswith("https://"):
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
    config["PASS_EXPIRE_PERIOD"] = _pass_expire_days(config["PASS_EXPIRE_PERIOD"])
    fail_open = not config["RATELIMIT_FAIL_CLOSED"]
    config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = fail_open
    config["RATELIMIT_SWALLOW_ERRORS"] = fail_open


def _pass_expire_days(value) -> int:
    """PASS_EXPIRE_PERIOD in days (digits in a string count), or an error saying what it takes."""
    text = str(value)
    if re.fullmatch(r"[0-9]+", text.strip()) and int(text) <= MAX_PASS_EXPIRE_DAYS:
        return int(text)
    raise ValueError(f"PASS_EXPIRE_PERIOD (instance/config.py: PASS_EXPIRE_PERIOD or "
                     f"PassExpirePeriod; environment: PORTAL_PASS_EXPIRE_PERIOD) is {value!r}; it "
                     f"takes a whole number of days from 0 (no maximum password age) to "
                     f"{MAX_PASS_EXPIRE_DAYS}.")


def _load_instance_file(config: Config, path: Path) -> None:
    if not path.exists():
        return
    values: dict = {}
    exec(compile(path.read_bytes(), str(path), "exec"), values)  # noqa: S102 - operator's own file
    for key, value in values.items():
        key = LEGACY_KEYS.get(key, key)
        if key.isupper():
            config[key] = value


def _instance_secret_key(instance: Path) -> str:
    """Read instance/secret_key, writing a new 256-bit key there on first run."""
    key_file = instance / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
