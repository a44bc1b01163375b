"""Campaign ids: what a valid one looks like, and id files (one id a line).

A campaign id goes into a URL path, percent-encoded. Ids with ``/``,
whitespace or control characters are refused here, at validation, so that no
id can ever address something other than one campaign.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from bulkops.errors import JobError
from bulkops.yamlsafe import excerpt

MAX_ID_CHARS = 256
MAX_LINE_BYTES = 64 * 1024  # an id is at most 1 KiB of UTF-8; the rest would be comment

# Control (Cc), surrogate (Cs), invisible format (Cf), space and separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Cf", "Zs", "Zl", "Zp"})
_COMMENT = re.compile(r"\s#")


def id_problem(text: str, max_chars: int = MAX_ID_CHARS) -> str | None:
    """What is wrong with ``text`` as an id-like path segment or header, or None."""
    if not text:
        return "is empty"
    if len(text) > max_chars:
        return f"is {len(text)} characters long; at most {max_chars} are allowed"
    if "/" in text:
        return "contains '/'"
    for position, char in enumerate(text, 1):
        if char.isspace() or unicodedata.category(char) in _BAD_CATEGORIES:
            return (
                f"contains whitespace or a control character "
                f"(U+{ord(char):04X} at character {position})"
            )
    return None


def validate_campaign_id(value: object, where: str) -> str:
    """``value`` if it is a valid campaign id, else a JobError saying why at ``where``.

    Valid: a string of 1 to 256 characters without ``/``, whitespace (any
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


def read_ids_file(path: Path, field: str = "campaigns_file") -> list[str]:
    """The ids in ``path``, in file order, duplicates included.

    The file is UTF-8 (a leading BOM is tolerated), one id a line. Ignored:
    surrounding whitespace, blank lines, CR of CRLF endings, and comments:
    ``#`` at the start of a line, or after whitespace (``cd-1  # old`` is
    ``cd-1``). A ``#`` inside an id (``cd-1#x``) is part of the id, as the
    contract allows only those two comment forms. The file is read line by
    line, so memory grows with the ids, not the comments. Errors are JobErrors:
    an unreadable file names ``field``; a bad line names ``path:LINE``.
    """
    ids: list[str] = []
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
                if len(raw) > MAX_LINE_BYTES:
                    raise JobError(f"{path}:{number}: line longer than {MAX_LINE_BYTES:,} bytes")
                line = _decode(raw[3:] if number == 1 and raw[:3] == b"\xef\xbb\xbf" else raw)
                if line is None:
                    raise JobError(
                        f"{path}:{number}: not valid UTF-8; id files must be saved as UTF-8 text"
                    )
                text = _COMMENT.split(line, maxsplit=1)[0].strip()
                if text and not text.startswith("#"):
                    ids.append(validate_campaign_id(text, f"{path}:{number}"))
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise JobError(f"{field}: cannot read {path}: {reason}") from None
    return ids


def _decode(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
