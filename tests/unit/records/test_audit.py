"""The audit log: whole lines, torn-tail recovery, the lock, and what resume reads."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bulkops.errors import LockedError
from bulkops.records.audit_log import AuditLock, AuditWriter
from bulkops.records.history import BadLine, iter_records, read_history
from bulkops.utc import utc_now

HOST, APP = "https://kore.example", "st-a"


def started(run_id: str, *, dry_run: bool = False, host: str = HOST) -> dict[str, object]:
    return {"event": "run_started", "run_id": run_id, "dry_run": dry_run,
            "target": {"host": host, "app_id": APP, "account_id": "acc"}}  # fmt: skip


def campaign(run_id: str, cid: str, outcome: str) -> dict[str, object]:
    return {"event": "campaign", "run_id": run_id, "campaign_id": cid, "outcome": outcome}


def write_log(path: Path, records: list[dict[str, object]], tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)


def test_ts_is_utc_with_milliseconds_and_z() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_now())


def test_latest_real_outcome_decides_what_resume_skips(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    write_log(log, [
        started("r1"), campaign("r1", "done", "deleted"), campaign("r1", "gone", "not_found"),
        campaign("r1", "bad", "failed"), campaign("r1", "flip", "deleted"),
        started("dry", dry_run=True), campaign("dry", "preview", "would_delete"),
        started("other", host="https://elsewhere.example"),
        campaign("other", "elsewhere", "deleted"),
        started("r2"), campaign("r2", "bad", "failed"), campaign("r2", "flip", "failed"),
    ])  # fmt: skip
    assert read_history(log, HOST, APP).done == {"done", "gone"}


def test_torn_last_line_and_garbage_are_reported_not_fatal(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    write_log(
        log, [started("r1"), campaign("r1", "c1", "deleted")], tail='not json\n{"event": "camp'
    )
    history = read_history(log, HOST, APP)
    assert history.done == {"c1"}
    assert [(b.lineno, b.problem[:8]) for b in history.problems] == [
        (3, "not JSON"),
        (4, "the last"),
    ]
    assert history.torn_tail

    writer = AuditWriter(log, torn_tail=True)
    writer.write({"event": "run_started", "run_id": "r3"})
    writer.close()
    items = list(iter_records(log))
    assert items[-1][1] == {"event": "run_started", "run_id": "r3"}
    assert isinstance(items[-2][1], BadLine)  # the torn line stays, alone on its line


def test_writer_appends_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "sub" / "a.jsonl"
    for n in range(2):
        w = AuditWriter(log)
        w.write({"event": "campaign", "n": n, "name": "é"})
        w.close()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["n"] for x in lines] == [0, 1]


def test_second_lock_is_refused_and_released_lock_is_free(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    first = AuditLock(log)
    first.acquire()
    with pytest.raises(LockedError, match="in use by another bulkops run"):
        AuditLock(log).acquire()
    first.release()
    again = AuditLock(log)
    again.acquire()
    again.release()


def test_lock_of_a_killed_process_does_not_block(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    code = (
        "import os, sys; from pathlib import Path; "
        "from bulkops.records.audit_log import AuditLock; "
        f"AuditLock(Path({str(log)!r})).acquire(); os.kill(os.getpid(), 9)"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    assert (tmp_path / "a.jsonl.lock").exists()
    lock = AuditLock(log)
    lock.acquire()
    lock.release()


def test_recent_request_times_cover_dry_runs_of_this_target_only(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"

    def line(run_id: str, cid: str, ts: str, ms: int, attempts: int = 1) -> dict[str, object]:
        record = campaign(run_id, cid, "deleted")
        return {**record, "ts": ts, "duration_ms": ms, "attempts": attempts}

    write_log(log, [
        started("dry", dry_run=True), line("dry", "a", "2026-01-01T00:00:10.000Z", 500),
        started("other", host="https://elsewhere.example"),
        line("other", "b", "2026-01-01T00:00:11.000Z", 0),
        started("r1"), line("r1", "c", "2026-01-01T00:00:12.000Z", 2000, attempts=2),
    ])  # fmt: skip
    base = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    history = read_history(log, HOST, APP, keep_answers=10)
    assert [t - base for t in history.recent_answers] == [10.0, 12.0, 12.0]  # answer times
    assert history.done == {"c"}  # the dry run's line counts for timing, not for resume
    assert len(read_history(log, HOST, APP, keep_answers=1).recent_answers) == 2  # the last line's
