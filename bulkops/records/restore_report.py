"""What ``bulkops report`` says of the restores of an audit log: one entry per restore run,
read from the restore log beside it (``<audit log>.restore.jsonl``).

Counts come from the ``campaign`` lines (a restore killed before ``restore_finished``
still shows what it did); ``exit_code``, ``reason`` and ``error`` from
``restore_finished`` when there is one (null otherwise: the restore was killed).
Bad lines are skipped: the audit log's report already says how its own are treated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkops.model import RESTORE_OUTCOMES
from bulkops.records.history import BadLine, iter_records
from bulkops.records.restore_log import restore_log_path


@dataclass
class RestoreRunReport:
    run_id: str
    job: str | None
    dry_run: bool | None
    started: str | None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESTORE_OUTCOMES, 0))
    sent: int = 0  # Creates sent (their sent lines)
    exit_code: int | None = None
    reason: str | None = None  # None: no restore_finished (killed)
    error: str | None = None


def restore_reports(audit_log: Path) -> list[RestoreRunReport]:
    """Every restore of ``audit_log``'s job, in log order; none when it has no restore log."""
    path = restore_log_path(audit_log)
    runs: dict[str, RestoreRunReport] = {}
    if not path.is_file():
        return []
    for _, item in iter_records(path):
        if isinstance(item, BadLine) or not isinstance(run_id := item.get("run_id"), str):
            continue
        if item.get("event") == "restore_started":
            runs[run_id] = RestoreRunReport(
                run_id, _text(item.get("job")), _flag(item.get("dry_run")), _text(item.get("ts"))
            )
        elif (run := runs.get(run_id)) is not None:
            _feed(run, item)
    return list(runs.values())


def _feed(run: RestoreRunReport, item: dict[str, Any]) -> None:
    event = item.get("event")
    if event == "sent":
        run.sent += 1
    elif event == "campaign" and item.get("outcome") in run.counts:
        run.counts[str(item["outcome"])] += 1
    elif event == "restore_finished":
        code = item.get("exit_code")
        run.exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
        run.reason, run.error = _text(item.get("reason")), _text(item.get("error"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
