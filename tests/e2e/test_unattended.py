"""Unattended runs: machine-readable logs, summary and metrics files, an installable wheel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bulkops import __version__
from bulkops.records.audit_log import AuditLock
from bulkops.sandbox import SandboxThread
from tests.e2e.harness import (
    NOTHING_KEPT,
    REPO,
    bulkops,
    interrupt_after,
    read_audit,
    run_losing_a_directory,
    start_bulkops,
    write_job,
)
from tests.skips import NOT_RUN_HERE

MONITORING = ("--summary-json", "summary.json", "--metrics-file", "metrics/bulkops.prom")


def metrics(path: Path) -> dict[tuple[str, str], float]:
    """{(name, outcome label or ''): value} of a textfile."""
    values = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            values[(sample.name, sample.labels.get("outcome", ""))] = sample.value
    return values


def test_json_logs_are_one_object_a_line_without_control_characters(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=12)
    sandbox.configure(scripted={ids[0]: [503]})
    job = write_job(tmp_path, sandbox, [*ids, ids[0]])  # a duplicate: one warning
    result = bulkops("run", job, "--yes", "--log-format", "json", cwd=tmp_path)
    assert result.code == 0
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert records and all({"ts", "level", "event", "message"} <= set(r) for r in records)
    assert any(r["level"] == "warning" and "duplicate" in r["message"] for r in records)
    summary = records[-1]
    assert summary["event"] == "summary" and summary["counts"]["deleted"] == 12
    assert "\x1b" not in result.stderr and "\r" not in result.stderr


def test_quiet_keeps_only_the_summary(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=3)
    result = bulkops("run", write_job(tmp_path, sandbox, ids), "--yes", "--quiet", cwd=tmp_path)
    assert result.code == 0
    said = [line for line in result.stderr.splitlines() if not line.startswith(NOTHING_KEPT)]
    assert len(said) == 1 and said[0].startswith("completed: deleted 3")


def test_summary_and_metrics_after_success(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=5)
    result = bulkops(
        "run", write_job(tmp_path, sandbox, [*ids, "cd-gone"]), "--yes", *MONITORING, cwd=tmp_path
    )
    assert result.code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_code"] == 0 and summary["reason"] == "completed"
    assert summary["counts"]["deleted"] == 5 and summary["counts"]["not_found"] == 1
    assert summary["run_id"] == result.audit[0]["run_id"]
    assert summary["audit_log"].endswith("audit.jsonl")
    values = metrics(tmp_path / "metrics/bulkops.prom")
    assert values[("bulkops_campaigns", "deleted")] == 5
    assert values[("bulkops_last_run_exit_code", "")] == 0
    assert values[("bulkops_last_run_success", "")] == 1
    assert (
        values[("bulkops_last_run_end_timestamp_seconds", "")]
        >= values[("bulkops_last_run_start_timestamp_seconds", "")]
    )
    assert list((tmp_path / "metrics").iterdir()) == [tmp_path / "metrics/bulkops.prom"]


def test_summary_and_metrics_after_failures(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=4)
    sandbox.configure(fail_always={ids[0]: 503}, scripted={ids[1]: [429]}, scripted_retry_after=0.1,
                      retry_after_mode="exact")  # fmt: skip
    result = bulkops("run", write_job(tmp_path, sandbox, ids), "--yes", *MONITORING, cwd=tmp_path)
    assert result.code == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_code"] == 1 and summary["counts"]["failed"] == 1
    values = metrics(tmp_path / "metrics/bulkops.prom")
    assert values[("bulkops_campaigns", "failed")] == 1
    assert values[("bulkops_last_run_success", "")] == 0
    assert values[("bulkops_rate_limited_responses", "")] == 1
    assert values[("bulkops_retries", "")] == 4  # 3 for the 503s, 1 for the 429


def test_summary_and_metrics_after_an_interrupt(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=40)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["20/s"], "concurrency": 2})
    proc = start_bulkops("run", job, "--yes", *MONITORING, cwd=tmp_path)
    code, _, _ = interrupt_after(proc, sandbox, deleted=5, sig=signal.SIGINT)
    assert code == 130
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_code"] == 130 and summary["reason"] == "interrupted"
    assert summary["counts"]["pending"] > 0
    values = metrics(tmp_path / "metrics/bulkops.prom")
    assert values[("bulkops_last_run_exit_code", "")] == 130
    assert values[("bulkops_campaigns", "pending")] == summary["counts"]["pending"]


def test_an_invalid_job_still_tells_monitoring(tmp_path: Path, sandbox: SandboxThread) -> None:
    job = write_job(tmp_path, sandbox, ["cd-1"], run={"concurrency": 0})
    result = bulkops("run", job, "--yes", *MONITORING, cwd=tmp_path)
    assert result.code == 2
    assert json.loads((tmp_path / "summary.json").read_text())["exit_code"] == 2
    assert metrics(tmp_path / "metrics/bulkops.prom")[("bulkops_last_run_success", "")] == 0


@pytest.mark.long
@pytest.mark.skipif(
    os.environ.get("CI") != "true",
    reason=f"{NOT_RUN_HERE} the wheel build and install (~8 s) runs under CI=true only",
)
def test_the_built_wheel_installs_and_reports_its_version(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", REPO],
        check=True, capture_output=True,
    )  # fmt: skip
    wheel = next((tmp_path / "dist").glob("bulkops-*.whl"))
    venv.create(tmp_path / "venv")  # no pip of its own: this pip installs into it (--python)
    # dependencies come from the package index (pip's cache), as `pipx install .` gets them
    pip = [sys.executable, "-m", "pip", "--python", tmp_path / "venv/bin/python", "install", "-q",
           wheel]  # fmt: skip
    subprocess.run(pip, check=True, capture_output=True, timeout=300)
    out = subprocess.run(
        [tmp_path / "venv/bin/bulkops", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"bulkops {__version__}"


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


def test_a_metrics_file_that_cannot_be_written_gives_one_exit_code_everywhere(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    code, err = run_losing_a_directory(
        sandbox, tmp_path, out, "--summary-json", summary, "--metrics-file", out / "m.prom"
    )
    finished = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "run_finished"]
    assert code == 3, err
    assert finished[-1]["exit_code"] == 3
    assert f"could not write {out / 'm.prom'}" in finished[-1]["error"]
    assert json.loads(summary.read_text())["exit_code"] == 3
    assert f"could not write {out / 'm.prom'}" in err and "exit 3" in err
    assert err.count("could not write") == 1 and "Traceback" not in err
