"""The smaller rough edges an operator met: each fixed, each seen from outside."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from bulkops.cli.main import main
from bulkops.records.audit_log import AuditLock
from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, interrupt_after, start_bulkops, write_job
from tests.e2e.test_terminal import Terminal


def test_exclude_ids_that_match_nothing_are_named_and_the_preview_lists_the_excluded(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns([{"_id": f"cd-x-{i}", "status": "Stopped"} for i in range(4)])
    job = write_job(tmp_path, sandbox, select={"status": ["Stopped"]},
                    exclude=["cd-x-1", "cd-x-l"])  # fmt: skip
    result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "1 exclude ids match none of the selected campaigns (a typo?): 'cd-x-l'" in (
        result.stderr
    )
    assert "3 campaigns would be deleted" in result.stdout
    assert "1 id left out by exclude: cd-x-1" in result.stdout
    id_job = write_job(tmp_path, sandbox, ids, exclude=["cd-x-9"])
    warned = bulkops("validate", id_job, cwd=tmp_path)
    assert "1 exclude ids match none of the campaigns (a typo?): 'cd-x-9'" in warned.stderr


def test_the_report_keeps_dry_runs_out_of_the_totals(
    tmp_path: Path, sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = sandbox.add_campaigns([{"_id": f"cd-r-{i}", "status": "Stopped"} for i in range(3)])
    job = write_job(tmp_path, sandbox, ids)
    assert bulkops("run", job, "--dry-run", cwd=tmp_path).code == 0
    assert bulkops("run", job, "--yes", cwd=tmp_path).code == 0
    log = str(tmp_path / "audit.jsonl")
    assert main(["report", log, "--format", "json"]) == 0  # in this process: no start-up
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["deleted"] == 3 and doc["totals"]["would_delete"] == 0
    assert doc["dry_run_totals"]["would_delete"] == 3 and doc["dry_run_totals"]["deleted"] == 0
    assert main(["report", log]) == 0
    table = capsys.readouterr().out
    assert "totals (1 real run): deleted 3" in table
    assert (
        "dry runs (1, nothing deleted): deleted 0  not_found 0  failed 0  would_delete 3" in table
    )


def test_report_on_a_job_file_says_so_and_fails(tmp_path: Path, sandbox: SandboxThread) -> None:
    job = write_job(tmp_path, sandbox, ["cd-1"])
    result = bulkops("report", job, cwd=tmp_path)
    assert result.code == 2 and result.stdout == ""
    log = tmp_path / "audit.jsonl"
    assert (
        f"is not an audit log (one JSON object a line): it is a job file; its audit log is {log}"
        in (result.stderr)
    )


def test_sigterm_is_not_told_to_press_ctrl_c_and_the_summary_says_how_to_resume(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=40)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["20/s"], "concurrency": 2})
    proc = start_bulkops("run", job, "--yes", cwd=tmp_path)
    code, _, err = interrupt_after(proc, sandbox, 3, sig=signal.SIGTERM)
    assert code == 143
    assert "interrupted (SIGTERM): letting requests in flight finish" in err
    assert "Ctrl-C" not in err and "a second SIGTERM quits at once" in err
    assert "rerun the same command to resume: campaigns already done are skipped" in err


def test_the_eta_counts_the_wait_for_the_next_rate_window(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=8)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["6/2s"], "concurrency": 6})
    term = Terminal("run", job, "--yes", cwd=tmp_path)
    screen = term.read_until("completed: deleted 8")
    assert term.wait() == 0
    waiting = [line for line in screen.split("\r") if " 6/8 " in line]
    assert waiting, screen  # drawn while the last 2 wait for the window to let them go
    assert all("ETA 0:00:00" not in line for line in waiting), waiting
    assert any("ETA 0:00:01" in line or "ETA 0:00:02" in line for line in waiting), waiting


def test_a_run_refused_by_the_lock_leaves_the_monitoring_files_alone(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    """What docs/scheduling.md says: those files belong to the run that holds the lock."""
    job = write_job(tmp_path, sandbox, ["cd-1"])
    lock = AuditLock(tmp_path / "audit.jsonl")
    lock.acquire()  # another run holds the log
    try:
        summary = tmp_path / "summary.json"
        result = bulkops("run", job, "--yes", "--summary-json", summary, cwd=tmp_path)
    finally:
        lock.release()
    assert result.code == 2 and "in use by another bulkops run" in result.stderr
    assert not summary.exists() and sandbox.stats_snapshot()["total_requests"] == 0
    doc = (Path(__file__).parents[2] / "docs" / "scheduling.md").read_text()
    assert "refused because another run holds the audit log's lock writes neither" in doc
