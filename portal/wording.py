"""Counts in the texts people read: "1 user", "2 users" (also the Jinja filter `counted`)."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun`, in the plural unless the count is one (`plural` when it is not noun+s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
