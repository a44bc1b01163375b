"""Files that describe the last run for schedulers and monitoring.

``write_summary_json`` writes the run summary as one JSON object;
``write_metrics`` writes it in the Prometheus text exposition format (rendered by
prometheus_client) for the node exporter's textfile collector. Both only describe
a ``RunResult``: they work the same for a run that completed, failed, halted or
was interrupted.

Both replace their file atomically: the text goes to a temporary file in the
same directory (named ``.<name>.<random>.tmp``, never ``*.prom``, so the
collector cannot read half a file), is fsynced, and is renamed over the
target. A reader sees the old file or the new one, never a mix.

A ``RunResult`` carries no secret (ids, counts, times and our own error
text), and nothing is added here, so these files are safe to publish.
"""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from bulkops.model import COUNT_KEYS, RunResult
from bulkops.records.files import atomic_write
from bulkops.utc import parse_utc

FILE_MODE = 0o644  # the node exporter usually runs as another user and must read the file

SUMMARY_KEYS = (
    "run_id", "job", "dry_run", "total", "counts", "exit_code", "reason", "duration_s",
    "started_at", "finished_at", "audit_log", "requests", "retries", "rate_limited",
    "list_calls", "error",
)  # fmt: skip


def write_summary_json(summary: RunResult, path: Path) -> None:
    """Writes the summary as a JSON object with the keys of ``SUMMARY_KEYS``.

    Parent directories are created. The file is replaced atomically; on error
    (OSError) the previous file is left as it was and no temporary file remains.
    """
    doc = {key: getattr(summary, key) for key in SUMMARY_KEYS}
    doc["counts"] = {key: summary.counts.get(key, 0) for key in COUNT_KEYS}
    atomic_write(Path(path), json.dumps(doc, ensure_ascii=False, indent=2) + "\n", mode=FILE_MODE)


def write_metrics(summary: RunResult, path: Path) -> None:
    """Writes the summary as Prometheus textfile metrics, every sample labelled ``job``.

    Same atomic replacement and error behaviour as ``write_summary_json``.
    """
    atomic_write(Path(path), render_metrics(summary), mode=FILE_MODE)


# Every metric is a gauge: the file holds the state of the job's last run and is
# replaced whole by the next one, so its numbers are not monotonic counters
# (a counter that drops to a smaller run's value would look like a reset to rate()).
def render_metrics(summary: RunResult) -> str:
    """The text exposition of ``summary`` (what ``write_metrics`` writes).

    prometheus_client renders it from a registry of this run's own; the file itself is
    replaced by ``atomic_write`` rather than its ``write_to_textfile``, which neither
    fsyncs nor sets the mode the node exporter (another user) needs to read it.
    """
    registry = CollectorRegistry(auto_describe=False)
    job = {"job": summary.job}
    campaigns = Gauge(
        "bulkops_campaigns", "Campaigns of the last run by outcome.",
        ["job", "outcome"], registry=registry,
    )  # fmt: skip
    for key in COUNT_KEYS:
        campaigns.labels(outcome=key, **job).set(summary.counts.get(key, 0))
    for name, help_text, value in _gauges(summary):
        gauge = Gauge(name, help_text, ["job"], registry=registry)
        # a run stopped before it began (bad job, lock held) has no start or end time
        if value is not None:
            gauge.labels(**job).set(value)
    info = Gauge(
        "bulkops_last_run_info", "The last run's id and why it ended.",
        ["job", "run_id", "reason"], registry=registry,
    )  # fmt: skip
    info.labels(run_id=summary.run_id, reason=summary.reason, **job).set(1)
    return generate_latest(registry).decode()


def _gauges(s: RunResult) -> list[tuple[str, str, float | None]]:
    """(name, help, value) of the gauges labelled ``job`` only."""
    return [
        ("bulkops_last_run_start_timestamp_seconds", "When the last run started (unix seconds).",
         _unix_seconds(s.started_at)),
        ("bulkops_last_run_end_timestamp_seconds", "When the last run finished (unix seconds).",
         _unix_seconds(s.finished_at)),
        ("bulkops_last_run_duration_seconds", "How long the last run took.", s.duration_s),
        ("bulkops_last_run_exit_code", "Exit code of the last run.", s.exit_code),
        ("bulkops_last_run_dry_run", "1 if the last run was a dry run.", int(s.dry_run)),
        ("bulkops_last_run_success", "1 if the last run exited 0.", int(s.exit_code == 0)),
        ("bulkops_last_run_campaigns", "Campaigns the last run covered, skipped ones included.",
         s.total),
        ("bulkops_rate_limited_responses",
         "Rate-limit refusals in the last run (a 429, or a 400 that says so).", s.rate_limited),
        ("bulkops_retries", "Requests retried in the last run.", s.retries),
        ("bulkops_requests", "Requests sent in the last run, list calls included.", s.requests),
        ("bulkops_list_calls", "List calls the last run's selection made.", s.list_calls),
    ]  # fmt: skip


def _unix_seconds(stamp: str) -> float | None:
    """UTC ISO-8601 (``...Z``) to unix seconds; None when the run has no such time."""
    if not stamp:
        return None
    moment = parse_utc(stamp)
    return moment.timestamp() if moment else None
