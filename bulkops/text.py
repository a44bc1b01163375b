"""Quoting outside input in messages: short, escaped, never the whole document."""

from __future__ import annotations

EXCERPT_CHARS = 60


def plural(count: int, noun: str) -> str:
    """``1 campaign``, ``2 campaigns``: for nouns whose plural adds an s."""
    return f"{count} {noun}{'s' * (count != 1)}"


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``value`` quoted for an error message: at most ``limit`` characters, then "…".

    Unprintable characters are escaped (``\\t``, ``\\x00``) and count as what is shown.
    """
    if not isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit else text[:limit] + "…"
    shown: list[str] = []
    used = 0
    for char in value:
        if char in ("'", "\\"):
            part = "\\" + char
        elif char.isprintable():
            part = char
        else:
            part = repr(char)[1:-1]  # \t, \x00, \u200b, ...
        used += len(part)
        if used > limit:
            shown.append("…")
            break
        shown.append(part)
    return "'" + "".join(shown) + "'"
