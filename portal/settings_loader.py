"""Configuration precedence: defaults, instance/config.py, PORTAL_* variables, test mapping."""

import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Config

# BILLmanager's spellings accepted in the instance file, mapped to our keys.
LEGACY_KEYS = {"PassExpirePeriod": "PASS_EXPIRE_PERIOD"}
MAX_PASS_EXPIRE_DAYS = 36500  # a century: any password's date plus this stays a valid date


BACKENDS = {"MAIL_BACKEND": ("console", "smtp"), "SMS_BACKEND": ("console", "vonage")}
TRUE, FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
MIN_SECRET_KEY = 32  # characters of instance/secret_key (it holds 64 hex digits)


class ConfigError(click.ClickException, ValueError):
    """A setting that cannot work. The flask CLI prints it as one "Error: ..." line (exit 1), not
    a traceback; wsgi.py hands it to gunicorn the same way."""


def load_config(config: Config, instance_path: str, test_config=None) -> None:
    """Fill `config` in the documented order, refuse what cannot work with a message naming the key
    (ConfigError at startup, not a 500 at the first request), and derive what depends on it."""
    config.from_object("portal.config")
    typed = {key: type(value) for key, value in config.items() if type(value) in (bool, int)}
    _load_instance_file(config, Path(instance_path) / "config.py")
    config.from_prefixed_env("PORTAL")
    if test_config:
        config.from_mapping(test_config)
    config["PASS_EXPIRE_PERIOD"] = _pass_expire_days(config["PASS_EXPIRE_PERIOD"])  # its own message
    for key, kind in typed.items():  # "False" from an environment variable is not true
        config[key] = _as_type(key, config[key], kind)
    for key, allowed in BACKENDS.items():
        config[key] = _one_of(key, config[key], allowed)
    if config["SMS_BACKEND"] == "vonage" and not (config.get("VONAGE_API_KEY") and config.get("VONAGE_API_SECRET")):
        raise ConfigError("SMS_BACKEND is 'vonage' but VONAGE_API_KEY and VONAGE_API_SECRET are not both set.")
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(instance_path) / 'portal.sqlite'}"
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret_key(Path(instance_path))
    if _public_url_scheme(config["PUBLIC_URL"]) == "https":
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
    fail_open = not config["RATELIMIT_FAIL_CLOSED"]
    config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = fail_open
    config["RATELIMIT_SWALLOW_ERRORS"] = fail_open


def _as_type(key: str, value, kind: type):
    """A setting whose default is a bool or an int, given as text (the environment, a quoted value)."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if kind is bool and text in TRUE | FALSE:
        return text in TRUE
    if kind is int and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    expected = "true or false" if kind is bool else "a whole number"
    raise ConfigError(f"{key} is {value!r}; it takes {expected} (in the environment, PORTAL_{key}=...).")


def _one_of(key: str, value, allowed: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in allowed:
        raise ConfigError(f"{key} is {value!r}; it takes {' or '.join(repr(a) for a in allowed)}.")
    return text


def _public_url_scheme(url) -> str:
    """PUBLIC_URL begins every link in an email or SMS: it needs http(s):// and a host."""
    parts = urlsplit(str(url))
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"PUBLIC_URL is {url!r}; it takes the address people open, with its scheme, "
                          "e.g. https://portal.example.com")
    return parts.scheme.lower()


def _pass_expire_days(value) -> int:
    """PASS_EXPIRE_PERIOD in days (digits in a string count), or an error saying what it takes."""
    text = str(value)
    if re.fullmatch(r"[0-9]+", text.strip()) and int(text) <= MAX_PASS_EXPIRE_DAYS:
        return int(text)
    raise ConfigError(f"PASS_EXPIRE_PERIOD (instance/config.py: PASS_EXPIRE_PERIOD or "
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
    """Read instance/secret_key, writing a new 256-bit key there on first run. The key is written
    whole to a file of its own, then linked into place: two processes starting at once both read
    the one that got there first, never a half-written one."""
    key_file = instance / "secret_key"
    if not key_file.exists():
        instance.mkdir(parents=True, exist_ok=True)
        draft = instance / f"secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass  # another process was first: its key it is
        finally:
            draft.unlink()
    key = key_file.read_text().strip()
    if len(key) < MIN_SECRET_KEY:
        raise ConfigError(f"{key_file} holds no usable key (under {MIN_SECRET_KEY} characters). Restore it "
                          "from a backup, or delete it to have a new one made (every session then ends).")
    return key
