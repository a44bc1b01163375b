"""Campaign ids: what a valid one looks like, wherever it comes from.

A campaign id goes into a URL path, percent-encoded. Ids with ``/``,
whitespace or control characters, and the dot-segments ``.`` and ``..`` (which
a normalising proxy would resolve), are refused here, whatever the id's source
(job, id file, plan, list answer), so that no id can ever address something
other than one campaign. ``shown()`` is how an id from outside is printed.
"""

from __future__ import annotations

import unicodedata

from bulkops.errors import JobError
from bulkops.text import excerpt

MAX_ID_CHARS = 256

# Control (Cc), surrogate (Cs), invisible format (Cf), space and separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Cf", "Zs", "Zl", "Zp"})


def id_problem(text: str, max_chars: int = MAX_ID_CHARS) -> str | None:
    """What is wrong with ``text`` as an id-like path segment or header, or None."""
    if not text:
        return "is empty"
    if len(text) > max_chars:
        return f"is {len(text)} characters long; at most {max_chars} are allowed"
    if "/" in text:
        return "contains '/'"
    if text in (".", ".."):
        return "is a dot-segment: a URL would resolve it to another path"
    for position, char in enumerate(text, 1):
        if char.isspace() or unicodedata.category(char) in _BAD_CATEGORIES:
            return (
                f"contains whitespace or a control character "
                f"(U+{ord(char):04X} at character {position})"
            )
    return None


def shown(text: str, limit: int = 80) -> str:
    """``text`` from outside, safe to print: control and bidi characters escaped, cut short."""
    return excerpt(text, limit)


def validate_campaign_id(value: object, where: str) -> str:
    """``value`` if it is a valid campaign id, else a JobError saying why at ``where``.

    Valid: a string of 1 to 256 characters, not ``.`` or ``..``, without ``/``, whitespace (any
    Unicode space or line separator), control, surrogate or invisible format
    characters. ``where`` prefixes the message, e.g. ``jobs/x.yaml:9: campaigns[3]``.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        shown = "nothing (null)" if value is None else f"{type(value).__name__} {excerpt(value)}"
        raise JobError(f"{where}: expected a campaign id (a string), got {shown}")
    if not isinstance(value, str):
        raise JobError(
            f"{where}: campaign id {excerpt(value)} is a number in YAML; "
            f'quote it so it stays a string: "{excerpt(value)}"'
        )
    problem = id_problem(value)
    if problem:
        raise JobError(f"{where}: campaign id {excerpt(value)} {problem}")
    return value
