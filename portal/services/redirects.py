"""Safe `next` targets: only paths on this site, never another host."""

from urllib.parse import urlsplit

LONGEST = 300  # PhoneVerification.return_to keeps a path this long


def safe_next(target: str | None, default: str) -> str:
    """Return `target` if it is a local path (of a sane length: it may be stored), else `default`."""
    if not target or len(target) > LONGEST or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
