"""How a ``Report`` is printed: table (people), json (scripts), markdown (tickets), csv (sheets).

Every formatter is ``(report, log_name) -> str``, pure, and prints nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from bulkops.cli.tables import csv_cell, table
from bulkops.errors import JobError
from bulkops.job.rates import parse_rate_spec
from bulkops.model import COUNT_KEYS
from bulkops.records.report import PERCENTILES, Report, RunReport

TABLE_FAILED = 20  # failed campaigns listed per run in the table; json lists all it kept


def format_json(report: Report, log_name: str) -> str:
    """``{"runs": [...], "totals": counts}``; ``failed`` holds at most FAILED_KEEP per run."""
    runs = [
        {
            "run_id": r.run_id,
            "job": r.job,
            "dry_run": r.dry_run,
            "counts": r.counts,
            "duration_s": r.duration_s,
            "total": r.total,
            "started": r.started,
            "reason": r.reason,
            "exit_code": r.exit_code,
            "rate": r.rate,
            "latency_ms": r.latency_ms,
            "retries": r.retries,
            "in_flight": r.in_flight,
            "request_rate": r.request_rate,
            "rate_limit": list(r.rate_limit),
            "failed": [
                {"campaign_id": f.campaign_id, "http_status": f.http_status, "error": f.error}
                for f in r.failed
            ],
        }
        for r in report.runs
    ]
    doc = {"runs": runs, "totals": report.totals, "dry_run_totals": report.dry_run_totals}
    return json.dumps(doc, indent=2, ensure_ascii=False)


def format_table(report: Report, log_name: str) -> str:
    if not report.runs:
        return f"no runs recorded in {log_name}"
    blocks = ["\n".join(_run_block(r)) for r in report.runs]
    dry = sum(1 for r in report.runs if r.dry_run)
    real = len(report.runs) - dry
    blocks.append(
        f"totals ({_runs(real, 'real run')}): {_counts_line(report.totals)}"
        + _in_flight(sum(r.in_flight for r in report.runs))
    )
    if dry:  # apart: a preview's would_delete is not a deletion
        blocks[-1] += f"\ndry runs ({dry}, nothing deleted): {_counts_line(report.dry_run_totals)}"
    return "\n\n".join(blocks)


def _runs(count: int, what: str) -> str:
    return f"{count} {what}{'s' * (count != 1)}"


def _run_block(r: RunReport) -> list[str]:
    mode = "dry run" if r.dry_run else "real run" if r.dry_run is not None else "run"
    exit_code = "" if r.exit_code is None else f" (exit {r.exit_code})"
    lines = [
        f"{mode} {r.run_id}  job {_dash(r.job)}  started {_dash(r.started)}  "
        f"{_dash(r.host)} app {_dash(r.app_id)}  {r.reason}{exit_code}",
        f"  {_counts_line(r.counts)}  of {_dash(r.total)}" + _in_flight(r.in_flight),
        f"  {_seconds(r.duration_s)}  rate {_dash(r.rate)}/s  latency "
        + "  ".join(f"{k} {_ms(v)}" for k, v in r.latency_ms.items())
        + f"  retries {r.retries}",
    ]
    if r.rate_limit:
        lines.append(
            f"  requests {_dash(r.request_rate)}/s  against the limit {_limit(r.rate_limit)}"
        )
    if r.failed:
        shown = r.failed[:TABLE_FAILED]
        rows = [(f.campaign_id, _dash(f.http_status), f.error) for f in shown]
        lines += ["  " + line for line in table(("failed", "http", "error"), rows).splitlines()]
        more = len(r.failed) - len(shown) + r.failed_more
        if more:
            lines.append(f"  … and {more} more (--format json lists them)")
    return lines


def format_markdown(report: Report, log_name: str) -> str:
    latency = [f"p{p} ms" for p in PERCENTILES]
    headers = ["run", "job", "mode", "started", "reason", "exit", "total", *COUNT_KEYS,
               "duration (s)", "rate (/s)", *latency, "retries"]  # fmt: skip
    rows = [_run_row(r) for r in report.runs]
    blank = [""] * 6
    rows.append(["**totals**", *blank, *(report.totals[k] for k in COUNT_KEYS), *blank])
    if any(r.dry_run for r in report.runs):
        dry = report.dry_run_totals
        rows.append(["**dry-run totals**", *blank, *(dry[k] for k in COUNT_KEYS), *blank])
    parts = [f"## bulkops report: {_md(log_name)}", "", *_md_table(headers, rows)]
    failures = [
        (r.run_id, f.campaign_id, f.http_status, f.error) for r in report.runs for f in r.failed
    ]
    if failures:
        failed_table = _md_table(["run", "campaign", "http", "error"], failures)
        parts += ["", "### Failed campaigns", "", *failed_table]
        cut = sum(r.failed_more for r in report.runs)
        if cut:
            parts += ["", f"… and {cut} more not listed (`--failed-ids` prints every id)"]
    return "\n".join(parts)


def format_csv(report: Report, log_name: str) -> str:
    """One row per run: identity, outcome counts, timing; a header row first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run_id", "job", "dry_run", "started", "host", "app_id", "reason", "exit_code",
                     "total", *COUNT_KEYS, "duration_s", "rate", *(f"p{p}_ms" for p in PERCENTILES),
                     "retries"])  # fmt: skip
    c = csv_cell
    for r in report.runs:
        dry_run = "" if r.dry_run is None else str(r.dry_run).lower()
        writer.writerow(
            [c(r.run_id), c(r.job), dry_run, c(r.started), c(r.host), c(r.app_id),
             c(r.reason), c(r.exit_code), c(r.total), *(r.counts[k] for k in COUNT_KEYS),
             c(r.duration_s), c(r.rate), *(c(v) for v in r.latency_ms.values()),
             r.retries]
        )  # fmt: skip
    return out.getvalue().rstrip("\n")


def _run_row(r: RunReport) -> list[Any]:
    mode = "dry run" if r.dry_run else "real" if r.dry_run is not None else ""
    return [r.run_id, r.job, mode, r.started, r.reason, r.exit_code, r.total,
            *(r.counts[k] for k in COUNT_KEYS), r.duration_s, r.rate,
            *r.latency_ms.values(), r.retries]  # fmt: skip


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return lines


def _md(value: Any) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _in_flight(count: int) -> str:
    return f"  in flight when it stopped {count} (probably deleted)" if count else ""


def _counts_line(counts: dict[str, int]) -> str:
    return "  ".join(f"{k} {counts[k]}" for k in COUNT_KEYS)


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"


def _seconds(value: float | None) -> str:
    return "duration -" if value is None else f"duration {value} s"


FORMATS: dict[str, Callable[[Report, str], str]] = {
    "table": format_table,
    "json": format_json,
    "markdown": format_markdown,
    "csv": format_csv,
}


def _limit(specs: Sequence[str]) -> str:
    """``60/min (1.00/s)``: the specs as written, and the long-run rate the tightest allows."""
    per_second = []
    for text in specs:
        try:
            spec = parse_rate_spec(text)
        except JobError:
            continue
        per_second.append(spec.count / spec.window)
    shown = ", ".join(specs)
    return f"{shown} ({min(per_second):.2f}/s)" if per_second else shown
