"""The restores beside an audit log, added to what ``bulkops report`` prints: a block in
the table, a ``restores`` list in JSON, a table in markdown (CSV stays one row per run)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from bulkops.records.restore_report import RestoreRunReport
from bulkops.text import printable_json


def with_restores(text: str, fmt: str, restores: Sequence[RestoreRunReport]) -> str:
    if not restores:
        return text
    if fmt == "json":
        doc = json.loads(text)
        doc["restores"] = [asdict(r) for r in restores]
        return printable_json(doc, indent=2)
    if fmt == "table":
        return "\n\n".join([text, *(_block(r) for r in restores)])
    if fmt == "markdown":
        rows = [
            f"| {r.run_id} | {'dry run' if r.dry_run else 'real'} | {r.started or '—'} | "
            f"{_ended(r)} | " + " | ".join(str(v) for v in r.counts.values()) + f" | {r.sent} |"
            for r in restores
        ]
        head = (
            "| restore | mode | started | ended | " + " | ".join(restores[0].counts) + " | sent |"
        )
        rule = "|" + " --- |" * (5 + len(restores[0].counts))
        return "\n".join([text, "", "### Restores", "", head, rule, *rows])
    return text


def _block(r: RestoreRunReport) -> str:
    counts = "  ".join(f"{key} {value}" for key, value in r.counts.items())
    mode = "dry run" if r.dry_run else "real"
    lines = [f"restore {r.run_id} ({mode}, {r.job or '?'}) started {r.started or '?'}: {_ended(r)}",
             f"  {counts}  (Creates sent {r.sent})"]  # fmt: skip
    if r.error:
        lines.append(f"  error: {r.error}")
    return "\n".join(lines)


def _ended(r: RestoreRunReport) -> str:
    if r.reason is None:
        return "no restore_finished (killed?)"
    return f"{r.reason}, exit {r.exit_code}"
