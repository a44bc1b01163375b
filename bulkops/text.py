"""Text from outside, made safe for a terminal: the one sanitiser, and short quotes of it.

A server's message, a campaign's name or an id may hold characters that act on a
terminal instead of showing: C0 and C1 controls (ESC starts an escape sequence,
BEL rings, U+009B is a one-character CSI, U+0085 a line break) and bidi or
other invisible format characters (U+202E turns the rest of the line around).
``printable`` escapes every one of them (``\\x1b``, ``\\u202e``); the console,
the tables and the reports print nothing that has not gone through it.
"""

from __future__ import annotations

import json
from typing import Any

EXCERPT_CHARS = 60


def plural(count: int, noun: str) -> str:
    """``1 campaign``, ``2 campaigns``: for nouns whose plural adds an s."""
    return f"{count} {noun}{'s' * (count != 1)}"


def escaped(char: str) -> str:
    """One character that is not printable, as its escape: ``\\t``, ``\\x1b``, ``\\u202e``."""
    return repr(char)[1:-1]


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped; line breaks (``\\n``)
    are kept, since a message may have several lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else escaped(c) for c in text)


def printable_json(doc: Any, *, indent: int | None = None) -> str:
    """``doc`` as JSON that a terminal shows as written: every unprintable character in a
    string is a JSON escape (``\\u202e``), printable ones (``é``) stay as they are."""
    text = json.dumps(doc, ensure_ascii=False, indent=indent, default=str)
    if text.isprintable():
        return text
    # outside strings JSON has only spaces and the indent's line breaks; inside, json.dumps
    # has escaped every C0 control already, so what is left escapes within a string
    return "".join(c if c.isprintable() or c == "\n" else json.dumps(c)[1:-1] for c in text)


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``value`` quoted for an error message: at most ``limit`` characters, then "…".

    Unprintable characters are escaped as ``printable`` does, and count as what is shown.
    """
    if not isinstance(value, str):
        text = printable(repr(value))
        return text if len(text) <= limit else text[:limit] + "…"
    shown: list[str] = []
    used = 0
    for char in value:
        if char in ("'", "\\"):
            part = "\\" + char
        elif char.isprintable():
            part = char
        else:
            part = escaped(char)
        used += len(part)
        if used > limit:
            shown.append("…")
            break
        shown.append(part)
    return "'" + "".join(shown) + "'"
