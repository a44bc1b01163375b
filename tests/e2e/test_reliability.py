"""Interrupted, crashed, overlapping and faulty runs lose nothing and resume."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import pytest

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import (
    bulkops,
    interrupt_after,
    read_audit,
    start_bulkops,
    wait_for_line,
    wait_until,
    write_job,
)


def assert_one_outcome_per_id_per_run(audit: list[dict], ids: list[str]) -> None:
    runs = Counter(r["run_id"] for r in audit if r["event"] == "run_started")
    for run_id in runs:
        lines = [r for r in audit if r["run_id"] == run_id and r["event"] == "campaign"]
        per_id = Counter(r["campaign_id"] for r in lines)
        assert max(per_id.values(), default=1) == 1
        finished = [r for r in audit if r["run_id"] == run_id and r["event"] == "run_finished"]
        assert len(finished) == 1
        started = next(r for r in audit if r["run_id"] == run_id and r["event"] == "run_started")
        assert sum(finished[0]["counts"].values()) == started["total"] == len(ids)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_then_resume_finishes_without_a_second_delete(
    tmp_path: Path, sandbox: SandboxThread, sig: int, code: int
) -> None:
    ids = sandbox.add_campaigns(count=60)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["20/s"], "concurrency": 4})
    proc = start_bulkops("run", job, "--yes", cwd=tmp_path)
    returncode, _, err = interrupt_after(proc, sandbox, deleted=10, sig=sig)
    assert returncode == code, err
    first = read_audit(tmp_path / "audit.jsonl")
    finished = first[-1]
    assert finished["event"] == "run_finished" and finished["reason"] == "interrupted"
    assert finished["exit_code"] == code and finished["counts"]["pending"] > 0
    done_first = {r["campaign_id"] for r in first if r.get("outcome") == "deleted"}

    again = bulkops("run", job, "--yes", cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert f"skipping {len(done_first)} campaigns already done" in again.stderr
    assert again.finished()["counts"]["skipped"] == len(done_first)
    stats = sandbox.stats_snapshot()
    assert sorted(stats["deleted_ids"]) == sorted(ids)
    assert all(c["delete_requests"] == 1 for c in stats["campaigns"].values())
    assert_one_outcome_per_id_per_run(again.audit, ids)


def test_second_ctrl_c_exits_at_once_leaving_the_log_parseable(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=20)
    sandbox.configure(latency=0.3)  # the run lasts a few seconds: time to slow it down
    job = write_job(tmp_path, sandbox, ids, run={"concurrency": 2, "timeout": 10})
    proc = start_bulkops("run", job, "--yes", cwd=tmp_path)
    wait_until("a first delete", lambda: bool(sandbox.stats_snapshot()["deleted_ids"]), proc)
    sandbox.configure(latency=5)
    arrived = sandbox.stats_snapshot()["total_requests"]

    def two_slow_requests() -> bool:  # at concurrency 2, then all that is in flight hangs 5 s
        return bool(sandbox.stats_snapshot()["total_requests"] >= arrived + 2)

    wait_until("two slow requests", two_slow_requests, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    wait_for_line(proc.stderr, "interrupted (SIGINT): letting requests in flight finish")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)
    assert proc.returncode == 130
    # at once: the server still holds the slow requests the run no longer waits for
    assert sandbox.stats_snapshot()["in_flight"] > 0
    for line in (tmp_path / "audit.jsonl").read_text().splitlines():
        json.loads(line)


def test_torn_last_line_is_reported_and_the_run_starts_on_a_new_line(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=3)
    job = write_job(tmp_path, sandbox, ids)
    (tmp_path / "audit.jsonl").write_text(
        '{"event": "run_started", "run_id": "x"}\n{"event": "camp'
    )
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0
    assert "cut off" in result.stderr and "audit.jsonl:2" in result.stderr
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert lines[1] == '{"event": "camp'
    assert [json.loads(x)["event"] for x in lines[2:]][0] == "run_started"


def test_a_second_run_on_the_same_log_exits_2_at_once(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    # 1000 ids at 10/s: the first run goes on until the SIGINT below
    ids = sandbox.add_campaigns(count=1000)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["10/s"], "concurrency": 2})
    first = start_bulkops("run", job, "--yes", cwd=tmp_path)
    try:
        wait_until("a first delete", lambda: bool(sandbox.stats_snapshot()["deleted_ids"]), first)
        before = sandbox.stats_snapshot()["total_requests"]
        second = bulkops("run", job, "--yes", cwd=tmp_path)
        assert second.code == 2 and "in use by another bulkops run" in second.stderr
        # at once: it did not wait for the lock, which the first run still holds
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    stats = sandbox.stats_snapshot()
    assert all(c["delete_requests"] == 1 for c in stats["campaigns"].values())
    assert stats["total_requests"] >= before
    runs = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "run_started"]
    assert len(runs) == 1


FAULTS = {
    "drops": {"drop_rate": 0.2},
    "5xx": {"error_rates": {500: 0.1, 502: 0.1, 503: 0.1}},
    "timeouts": {"hang_rate": 0.1, "hang_seconds": 1.0},
    "non-json": {"non_json_rate": 0.2},
    "mixed": {"drop_rate": 0.1, "error_rates": {503: 0.1}, "non_json_rate": 0.05},
}


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_leave_exactly_one_outcome_per_id(
    tmp_path: Path, sandbox: SandboxThread, fault: str
) -> None:
    ids = sandbox.add_campaigns(count=40)
    sandbox.configure(**FAULTS[fault])
    job = write_job(tmp_path, sandbox, ids, run={"timeout": 0.3, "max_attempts": 6})
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code in (0, 1), result.stderr
    assert_one_outcome_per_id_per_run(result.audit, ids)
    assert set(result.outcomes()) == set(ids)
    stats = sandbox.stats_snapshot()
    assert all(c["deletes"] <= 1 for c in stats["campaigns"].values())
    # all 40 existed: not_found means an earlier try of ours deleted it and its answer was
    # lost (a request slower than the 0.3 s timeout on a loaded machine, say)
    gone = {
        cid for cid, outcome in result.outcomes().items() if outcome in ("deleted", "not_found")
    }
    assert gone == set(stats["deleted_ids"])


@pytest.mark.long
def test_a_429_storm_is_waited_out_not_hammered(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=30)
    sandbox.configure(rates=["5/0.5s"], retry_after_mode="exact")
    job = write_job(tmp_path, sandbox, ids, run={"concurrency": 8, "max_attempts": 8})
    result = bulkops("run", job, "--yes", cwd=tmp_path, timeout=90)
    assert result.code == 0, result.stderr
    assert_one_outcome_per_id_per_run(result.audit, ids)
    stats = sandbox.stats_snapshot()
    assert sorted(stats["deleted_ids"]) == sorted(ids)
    # after the first 429s the limiter paused and slowed down instead of burning attempts
    assert stats["rate_limited"] < len(ids)


def test_a_run_right_after_its_dry_run_respects_the_server_window(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.add_campaigns(count=1500)  # listing them would cost more than a GET per id
    ids = sandbox.add_campaigns(count=15)
    sandbox.configure(rates=["10/s"])
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["10/s"], "concurrency": 10})
    assert bulkops("run", job, "--dry-run", cwd=tmp_path).code == 0
    assert sandbox.stats_snapshot()["by_method"]["GET"] >= 10  # the preview's own requests
    assert bulkops("run", job, "--yes", cwd=tmp_path).code == 0
    stats = sandbox.stats_snapshot()
    assert stats["rate_limited"] == 0 and len(stats["deleted_ids"]) == 15
