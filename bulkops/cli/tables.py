"""Plain-text tables for previews and reports."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from bulkops.text import printable

PREVIEW_ROWS = 50  # a longer preview shows this many rows and a count of the rest
CELL_MAX = 60


def _cell(value: Any) -> str:
    """One line of text; a value whose spaces that would lose (``"Active "``) is shown quoted,
    so a status that is not exactly what it seems does not look like one that is."""
    text = "" if value is None else str(value)
    if text != " ".join(text.split()):
        text = json.dumps(text, ensure_ascii=False)
    text = printable(text)
    return text if len(text) <= CELL_MAX else text[: CELL_MAX - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Aligned columns under a header; "" for no rows (a header over nothing says nothing)."""
    if not rows:
        return ""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def preview(rows: Sequence[dict[str, Any]], *, limit: int = PREVIEW_ROWS) -> str:
    """The dry run's table: oldest first, the first ``limit`` rows, then a count; "" if none."""
    ordered = sorted(rows, key=lambda r: (str(r.get("createdAt") or ""), str(r.get("id"))))
    shown = ordered if len(ordered) <= limit else ordered[:limit]
    text = table(
        ("id", "name", "status", "created"),
        [(r.get("id"), r.get("name"), r.get("status"), r.get("createdAt")) for r in shown],
    )
    if len(ordered) > len(shown):
        text += f"\n… and {len(ordered) - len(shown)} more (--output json lists them all)"
    return text


def id_lines(ids: Iterable[str]) -> str:
    """One id a line, for pipes (``--output ids``)."""
    return "\n".join(ids)


def short_list(ids: Sequence[str], *, limit: int = 20) -> str:
    """``a, b, c`` for a message: the first ``limit`` ids, then a count of the rest."""
    more = f" … and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


CSV_INJECTION = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


def csv_cell(value: Any) -> str:
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula is quoted."""
    text = "" if value is None else printable(str(value))
    return "'" + text if isinstance(value, str) and text.startswith(CSV_INJECTION) else text
