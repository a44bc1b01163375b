"""What `report` reads of a restore log: counts from campaign lines, how each restore ended."""

from __future__ import annotations

import json
from pathlib import Path

from bulkops.records.restore_report import restore_reports


def write(path: Path, *lines: dict[str, object]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"event": "camp')


def test_a_killed_restore_shows_what_it_did_and_no_ending(tmp_path: Path) -> None:
    base = {"job": "j", "ts": "2026-01-01T00:00:00.000Z"}
    write(
        tmp_path / "audit.restore.jsonl",
        {"event": "restore_started", "run_id": "r1", "dry_run": False, **base},
        {"event": "sent", "run_id": "r1", "campaign_id": "a"},
        {"event": "campaign", "run_id": "r1", "campaign_id": "a", "outcome": "restored"},
        {"event": "campaign", "run_id": "r1", "campaign_id": "b", "outcome": "failed"},
        {"event": "restore_finished", "run_id": "r1", "exit_code": 1, "reason": "completed"},
        {"event": "restore_started", "run_id": "r2", "dry_run": False, **base},
        {"event": "sent", "run_id": "r2", "campaign_id": "b"},
        {"event": "campaign", "run_id": "zz", "campaign_id": "c", "outcome": "restored"},
    )
    first, second = restore_reports(tmp_path / "audit.jsonl")
    assert (first.counts["restored"], first.counts["failed"], first.sent) == (1, 1, 1)
    assert (first.exit_code, first.reason) == (1, "completed")
    assert second.sent == 1 and second.reason is None and sum(second.counts.values()) == 0


def test_no_restore_log_no_restores(tmp_path: Path) -> None:
    assert restore_reports(tmp_path / "audit.jsonl") == []
