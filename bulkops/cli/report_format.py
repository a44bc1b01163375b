"""How a ``Report`` is printed: table (people), json (scripts), markdown (tickets), csv (sheets).

Every formatter is ``(report, log_name) -> str``, pure, and prints nothing.

A run's requests per second are its requests over its duration plus one window
of its tightest rate limit: the server counts each request in its window for
that long after it arrived, so a run that kept its limit never shows more than
the limit, however short it was (N requests in a run of D seconds, at most C in
any W, means N <= C * (D/W + 1)). Without a recorded limit it is N / D.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from bulkops.cli.tables import csv_cell, table
from bulkops.errors import JobError
from bulkops.job.rates import parse_rate_spec
from bulkops.model import COUNT_KEYS
from bulkops.records.report import FROM_SENT_LINES, PERCENTILES, FailedCampaign, Report, RunReport
from bulkops.text import plural, printable_json

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
            "requests": r.requests,
            "requests_per_s": requests_per_s(r),
            "requests_from": r.requests_from,
            "total": r.total,
            "started": r.started,
            "reason": r.reason,
            "exit_code": r.exit_code,
            "latency_ms": r.latency_ms,
            "retries": r.retries,
            "in_flight": r.in_flight,
            "rate_limit": list(r.rate_limit),
            "failed": [
                {
                    "campaign_id": f.campaign_id,
                    "http_status": f.http_status,
                    "error": f.error,
                    "latest": f.latest,
                }  # fmt: skip
                for f in r.failed
            ],
        }
        for r in report.runs
    ]
    doc = {"runs": runs, "totals": report.totals, "dry_run_totals": report.dry_run_totals}
    return printable_json(doc, indent=2)


def format_table(report: Report, log_name: str) -> str:
    if not report.runs:
        return f"no runs recorded in {log_name}"
    blocks = ["\n".join(_run_block(r)) for r in report.runs]
    dry = sum(1 for r in report.runs if r.dry_run)
    real = len(report.runs) - dry
    blocks.append(
        f"totals ({plural(real, 'real run')}): {_counts_line(report.totals)}"
        + "  (each campaign once, by its latest outcome)"
        + _in_flight(report.in_flight)
    )
    if dry:  # apart: a preview's would_delete is not a deletion
        blocks[-1] += (
            f"\ndry runs ({dry}, nothing deleted): {_counts_line(report.dry_run_totals)}"
            + "  (the latest dry run of each job)"
        )
    return "\n\n".join(blocks)


def _run_block(r: RunReport) -> list[str]:
    mode = "dry run" if r.dry_run else "real run" if r.dry_run is not None else "run"
    exit_code = "" if r.exit_code is None else f" (exit {r.exit_code})"
    lines = [
        f"{mode} {r.run_id}  job {_dash(r.job)}  started {_dash(r.started)}  "
        f"{_dash(r.host)} app {_dash(r.app_id)}  {r.reason}{exit_code}",
        f"  {_counts_line(r.counts)}  of {_dash(r.total)}" + _in_flight(r.in_flight),
        f"  {_seconds(r.duration_s)}  latency "
        + "  ".join(f"{k} {_ms(v)}" for k, v in r.latency_ms.items())
        + f"  retries {r.retries}",
        "  " + _requests_line(r),
    ]
    listed, listable = _failures(r)
    if listed:
        shown = listed[:TABLE_FAILED]
        rows = [(f.campaign_id, _dash(f.http_status), f.error) for f in shown]
        lines += ["  " + line for line in table(("failed", "http", "error"), rows).splitlines()]
        if more := listable - len(shown):
            lines.append(f"  … and {more} more (--format json lists them)")
    if not r.dry_run and (later := r.counts["failed"] - r.failing) > 0:
        lines.append(f"  {plural(later, 'campaign')} that failed here had a later outcome")
    return lines


def _failures(r: RunReport) -> tuple[list[FailedCampaign], int]:
    """The failures to list and how many there are in all: a real run's only while they
    are the campaign's latest outcome (what --failed-ids prints); a dry run's all."""
    if r.dry_run:
        return list(r.failed), len(r.failed) + r.failed_more
    return [f for f in r.failed if f.latest], r.failing


def _requests_line(r: RunReport) -> str:
    if r.requests is None:
        return "requests unknown (not recorded: an older bulkops wrote it, or the run was killed)"
    text = f"requests {r.requests}"
    if r.requests_from == FROM_SENT_LINES:
        text += " DELETEs (counted from the sent lines: list calls and GETs are not in them)"
    per_second, tightest = requests_per_s(r), _tightest(r.rate_limit)
    if per_second is not None:
        text += f"  {per_second}/s"
        text += f" (over the run + one {tightest[1]:g} s window)" if tightest else ""
    return text + (f"  against the limit {_limit(r.rate_limit)}" if r.rate_limit else "")


def requests_per_s(r: RunReport) -> float | None:
    """Requests over the duration plus the tightest limit's window (module docstring)."""
    if r.requests is None or r.duration_s is None:
        return None
    tightest = _tightest(r.rate_limit)
    span = r.duration_s + (tightest[1] if tightest else 0.0)
    return round(r.requests / span, 2) if span > 0 else None


def format_markdown(report: Report, log_name: str) -> str:
    latency = [f"p{p} ms" for p in PERCENTILES]
    headers = ["run", "job", "mode", "started", "reason", "exit", "total", *COUNT_KEYS,
               "duration (s)", "requests", "requests/s", *latency, "retries"]  # fmt: skip
    rows = [_run_row(r) for r in report.runs]
    lead, tail = [""] * 6, [""] * (len(headers) - 7 - len(COUNT_KEYS))
    rows.append(["**totals**", *lead, *(report.totals[k] for k in COUNT_KEYS), *tail])
    if any(r.dry_run for r in report.runs):
        dry = report.dry_run_totals
        rows.append(["**latest dry run**", *lead, *(dry[k] for k in COUNT_KEYS), *tail])
    parts = [f"## bulkops report: {_md(log_name)}", "", *_md_table(headers, rows)]
    real = [r for r in report.runs if not r.dry_run]
    failures = [(r.run_id, f.campaign_id, f.http_status, f.error)
                for r in real for f in _failures(r)[0]]  # fmt: skip
    if failures:  # those --failed-ids prints: each campaign's latest real outcome
        failed_table = _md_table(["run", "campaign", "http", "error"], failures)
        parts += ["", "### Failed campaigns", "", *failed_table]
        if cut := sum(r.failing for r in real) - len(failures):
            parts += ["", f"… and {cut} more not listed (`--failed-ids` prints every id)"]
    return "\n".join(parts)


def format_csv(report: Report, log_name: str) -> str:
    """One row per run: identity, outcome counts, timing; a header row first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run_id", "job", "dry_run", "started", "host", "app_id", "reason", "exit_code",
                     "total", *COUNT_KEYS, "duration_s", "requests", "requests_per_s",
                     "requests_from", *(f"p{p}_ms" for p in PERCENTILES), "retries"])  # fmt: skip
    c = csv_cell
    for r in report.runs:
        dry_run = "" if r.dry_run is None else str(r.dry_run).lower()
        writer.writerow(
            [c(r.run_id), c(r.job), dry_run, c(r.started), c(r.host), c(r.app_id),
             c(r.reason), c(r.exit_code), c(r.total), *(r.counts[k] for k in COUNT_KEYS),
             c(r.duration_s), c(r.requests), c(requests_per_s(r)), c(r.requests_from),
             *(c(v) for v in r.latency_ms.values()),
             r.retries]
        )  # fmt: skip
    return out.getvalue().rstrip("\n")


def _run_row(r: RunReport) -> list[Any]:
    mode = "dry run" if r.dry_run else "real" if r.dry_run is not None else ""
    return [r.run_id, r.job, mode, r.started, r.reason, r.exit_code, r.total,
            *(r.counts[k] for k in COUNT_KEYS), r.duration_s, r.requests, requests_per_s(r),
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
    tightest, shown = _tightest(specs), ", ".join(specs)
    return f"{shown} ({tightest[0]:.2f}/s)" if tightest else shown


def _tightest(specs: Sequence[str]) -> tuple[float, float] | None:
    """(requests per second, window in seconds) of the spec allowing the fewest per second;
    of equal ones the shortest window. None when no spec can be read (the log may hold any)."""
    found = []
    for text in specs:
        try:
            spec = parse_rate_spec(text)
        except JobError:
            continue
        found.append((spec.count / spec.window, spec.window))
    return min(found) if found else None
