"""What a person (or a log shipper) reads on stderr.

Text by default; ``json`` makes every line one JSON object (ts, level, event,
message, fields). ``quiet`` keeps warnings, errors and results. Callers pass
no secret here, ever: nothing in this module could tell one from a name.
Every message and field goes through ``text.printable``: no control or bidi
character from a server's answer reaches the terminal raw.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from bulkops.text import printable, printable_json
from bulkops.utc import utc_now

LEVELS = ("debug", "info", "result", "warning", "error")


class Console:
    def __init__(
        self, stream: TextIO | None = None, *, json_lines: bool = False, quiet: bool = False
    ) -> None:
        self.stream = stream or sys.stderr
        self.json_lines = json_lines
        self.quiet = quiet
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.transient = False  # a progress line is on screen and must be cleared first

    def info(self, event: str, message: str, **fields: Any) -> None:
        if not self.quiet:
            self._emit("info", event, message, fields)

    def result(self, event: str, message: str, **fields: Any) -> None:
        """A final summary: shown even when quiet."""
        self._emit("result", event, message, fields)

    def warn(self, event: str, message: str, **fields: Any) -> None:
        self._emit("warning", event, message, fields)

    def error(self, event: str, message: str, **fields: Any) -> None:
        self._emit("error", event, message, fields)

    def show_transient(self, text: str) -> None:
        """Redraws one status line in place (terminals only)."""
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self.transient = True

    def _emit(self, level: str, event: str, message: str, fields: dict[str, Any]) -> None:
        message = printable(message)  # whoever wrote it, outside text may be in it
        fields = {k: printable(v) if isinstance(v, str) else v for k, v in fields.items()}
        if self.json_lines:
            record = {"ts": utc_now(), "level": level, "event": event, "message": message, **fields}
            line = printable_json(record)
        elif level in ("warning", "error"):
            line = f"{level}: {message}"
        else:
            line = message
        if self.transient:
            self.stream.write("\r\x1b[2K")
            self.transient = False
        self.stream.write(line + "\n")
        self.stream.flush()


def say(text: str) -> None:
    """``text`` on stdout, one line or more: the one way output reaches it, so nothing
    unprintable does (JSON and CSV come here already escaped; this is the last net)."""
    print(printable(text))
