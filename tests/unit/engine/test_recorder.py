"""RunRecorder: run_started, campaign lines, and run_finished whatever happens in between."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from job_factory import SECRET, make_job

from bulkops import __version__
from bulkops.engine.ending import RunEnding
from bulkops.engine.recorder import RunRecorder
from bulkops.errors import AuditWriteError
from bulkops.model import COUNT_KEYS, Outcome
from bulkops.records.audit_log import AuditWriter

RUN_ID = "20250101T000000Z-abcdef"


def outcome(campaign_id: str, name: str, status: int | None = 200) -> Outcome:
    error = "HTTP 400: Campaign is running" if name == "failed" else None
    return Outcome(campaign_id, name, status, 1, 12, None, error, None)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def recorder(tmp_path: Path, **run: Any) -> tuple[RunRecorder, RunEnding]:
    job = make_job(tmp_path, **run)
    ending = RunEnding()
    return RunRecorder(AuditWriter(job.audit_log), job, RUN_ID, ending=ending), ending


def test_counts_add_up_to_total_and_pending_is_what_is_left(tmp_path: Path) -> None:
    rec, _ = recorder(tmp_path)
    with rec.recording(total=6, skipped=1, began=0.0):
        rec.campaign(outcome("c1", "deleted"))
        rec.campaign(outcome("c2", "not_found", 404))
        rec.campaign(outcome("c3", "failed", 400))
    started, *campaigns, finished = lines(tmp_path / "audit.jsonl")
    assert started["event"] == "run_started" and started["total"] == 6
    assert [c["campaign_id"] for c in campaigns] == ["c1", "c2", "c3"]
    counts = finished["counts"]
    assert counts == {"deleted": 1, "not_found": 1, "failed": 1, "would_delete": 0,
                      "skipped": 1, "pending": 2, "protected": 0}  # fmt: skip
    assert set(counts) == set(COUNT_KEYS) and sum(counts.values()) == 6
    assert (finished["reason"], finished["exit_code"]) == ("completed", 1)
    assert (rec.exit_code, rec.counts) == (1, counts)


def test_run_finished_is_written_when_the_body_raises(tmp_path: Path) -> None:
    rec, _ = recorder(tmp_path)
    with pytest.raises(RuntimeError, match="boom"), rec.recording(total=3, skipped=0, began=0.0):
        rec.campaign(outcome("c1", "deleted"))
        raise RuntimeError("boom")
    finished = lines(tmp_path / "audit.jsonl")[-1]
    assert finished["event"] == "run_finished"
    assert finished["reason"] == "aborted" and finished["exit_code"] == 3
    assert finished["counts"]["deleted"] == 1 and finished["counts"]["pending"] == 2
    # the writer was closed: nothing more can be appended after run_finished
    with pytest.raises(AuditWriteError):
        rec.campaign(outcome("c2", "deleted"))


def test_an_interrupted_run_records_its_signals_exit_code(tmp_path: Path) -> None:
    rec, ending = recorder(tmp_path)
    with rec.recording(total=2, skipped=0, began=0.0):
        rec.campaign(outcome("c1", "deleted"))
        ending.interrupt(signal.SIGTERM)
    finished = lines(tmp_path / "audit.jsonl")[-1]
    assert (finished["reason"], finished["exit_code"]) == ("interrupted", 143)
    assert finished["counts"]["pending"] == 1


def test_every_line_names_the_run_and_run_started_the_target(tmp_path: Path) -> None:
    rec, _ = recorder(tmp_path, dry_run=True)
    with rec.recording(total=1, skipped=0, began=0.0):
        rec.campaign(outcome("c1", "would_delete"))
    records = lines(tmp_path / "audit.jsonl")
    assert [r["event"] for r in records] == ["run_started", "campaign", "run_finished"]
    assert all(r["run_id"] == RUN_ID and r["job"] == "unit" and r["ts"].endswith("Z")
               for r in records)  # fmt: skip
    started = records[0]
    assert started["dry_run"] is True and started["version"] == __version__
    assert started["target"] == {
        "host": "http://127.0.0.1:9", "app_id": "st-sandbox-app", "account_id": "acc-sandbox"
    }  # fmt: skip
    assert records[-1]["exit_code"] == 0
    assert SECRET not in (tmp_path / "audit.jsonl").read_text()


class FillingWriter:
    """An AuditWriter whose disk is full after ``room`` lines."""

    def __init__(self, room: int) -> None:
        self.room, self.lines, self.tries = room, [], 0

    def write(self, record: dict[str, Any]) -> None:
        self.tries += 1
        if len(self.lines) == self.room:
            raise AuditWriteError("the audit log a.jsonl could not be written: File too large")
        self.lines.append(record)

    def close(self) -> None:
        pass


def test_once_the_log_cannot_be_written_the_run_is_aborted_and_nothing_more_is_tried(
    tmp_path: Path,
) -> None:
    writer = FillingWriter(room=3)  # run_started, sent c1, campaign c1
    ending = RunEnding()
    rec = RunRecorder(writer, make_job(tmp_path), RUN_ID, ending=ending)  # type: ignore[arg-type]
    with rec.recording(total=3, skipped=0, began=0.0):
        rec.sent("c1")
        rec.campaign(outcome("c1", "deleted"))
        with pytest.raises(AuditWriteError):
            rec.sent("c2")
        tries = writer.tries
        with pytest.raises(AuditWriteError):
            rec.campaign(outcome("c3", "deleted"))
        assert writer.tries == tries  # broken: not even tried again
    assert [r["event"] for r in writer.lines] == ["run_started", "sent", "campaign"]
    end = ending.end()
    assert (end.reason, rec.exit_code) == ("aborted", 3)
    assert end.error is not None and "File too large; nothing more was sent" in end.error
    assert rec.counts["deleted"] == 2 and rec.counts["pending"] == 1  # the summary stays right
