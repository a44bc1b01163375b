"""Id files: one campaign id a line, comments and blank lines ignored."""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

from bulkops.errors import JobError
from bulkops.ids import validate_campaign_id
from bulkops.reading import open_regular

MAX_LINE_BYTES = 64 * 1024  # an id is at most 1 KiB of UTF-8; the rest would be comment
_COMMENT = re.compile(r"\s#")


def read_ids_file(path: Path, field: str = "campaigns_file") -> list[str]:
    """The ids in ``path``, in file order, duplicates included.

    The file is UTF-8 (a leading BOM is tolerated), one id a line. Ignored:
    surrounding whitespace, blank lines, CR of CRLF endings, and comments:
    ``#`` at the start of a line, or after whitespace (``cd-1  # old`` is
    ``cd-1``). A ``#`` inside an id (``cd-1#x``) is part of the id, as the
    contract allows only those two comment forms. The file is read line by
    line, so memory grows with the ids, not the comments. Errors are JobErrors:
    an unreadable file, or one that is no regular file (a FIFO, a device), names
    ``field``; a bad line names ``path:LINE``.
    """
    try:
        with open_regular(path) as f:
            return read_ids_stream(f, str(path))
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise JobError(f"{field}: cannot read {path}: {reason}") from None


def read_ids_stream(f: BinaryIO, name: str, max_ids: int | None = None) -> list[str]:
    """The ids of an open id file (or stdin) called ``name`` in messages; same rules as above.

    With ``max_ids``, a stream holding more id lines (repeats included) is refused as
    soon as the one too many is read: a pipe that never ends must not fill memory."""
    ids: list[str] = []
    for number, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
        if len(raw) > MAX_LINE_BYTES:
            raise JobError(f"{name}:{number}: line longer than {MAX_LINE_BYTES:,} bytes")
        line = _decode(raw[3:] if number == 1 and raw[:3] == b"\xef\xbb\xbf" else raw)
        if line is None:
            raise JobError(
                f"{name}:{number}: not valid UTF-8; id files must be saved as UTF-8 text"
            )
        text = _COMMENT.split(line, maxsplit=1)[0].strip()
        if text and not text.startswith("#"):
            ids.append(validate_campaign_id(text, f"{name}:{number}"))
            if max_ids is not None and len(ids) > max_ids:
                raise JobError(
                    f"{name}:{number}: more than {max_ids:,} ids (run.max_deletes); nothing "
                    "was read further: give fewer ids, or raise run.max_deletes in the job file"
                )
    return ids


def _decode(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
