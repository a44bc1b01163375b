"""A run that stops early says why in ``run_finished.error``, and how many requests it sent."""

from __future__ import annotations

import signal
from pathlib import Path

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


def test_a_halted_run_names_halt_after_failures_and_what_was_in_flight(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=8)
    sandbox.configure(scripted={i: [400] for i in ids})
    job = write_job(tmp_path, sandbox, ids, run={"concurrency": 1, "halt_after_failures": 3})
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 3, result.stderr
    finished = result.finished()
    assert finished["reason"] == "halted"
    assert finished["error"] == (
        "halt_after_failures (3) reached at 3 failed campaigns; 0 requests still in flight "
        "settled (a failure among them counts too)"
    )
    assert finished["requests"] == 3 and finished["counts"]["failed"] == 3


def test_an_interrupted_run_names_the_signal(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=40)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["20/s"], "concurrency": 2})
    proc = start_bulkops("run", job, "--yes", cwd=tmp_path)
    code, _, err = interrupt_after(proc, sandbox, deleted=3, sig=signal.SIGTERM)
    assert code == 143, err
    audit = read_audit(tmp_path / "audit.jsonl")
    finished = audit[-1]
    assert finished["event"] == "run_finished" and finished["reason"] == "interrupted"
    assert finished["error"].startswith("interrupted by SIGTERM")
    assert finished["requests"] == sum(1 for r in audit if r["event"] == "sent") > 0


def test_a_second_ctrl_c_quits_with_a_closing_line(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=20)
    sandbox.configure(latency=0.3)
    job = write_job(tmp_path, sandbox, ids, run={"concurrency": 2, "timeout": 10})
    proc = start_bulkops("run", job, "--yes", cwd=tmp_path)
    wait_until("a first delete", lambda: bool(sandbox.stats_snapshot()["deleted_ids"]), proc)
    sandbox.configure(latency=5)  # what is in flight now hangs: the first signal cannot end it
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    wait_for_line(proc.stderr, "interrupted (SIGINT): letting requests in flight finish")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert "quitting at once (SIGINT again): requests in flight were not waited for" in err
