"""``run --retry-failed`` retries only what failed last, and the retry pipe cannot hide a
wrong log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, env, write_job


def test_retry_failed_sends_only_the_campaigns_that_failed_last(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=5)
    sandbox.configure(scripted={ids[1]: [400], ids[3]: [400]})
    job = write_job(tmp_path, sandbox, ids, run={"concurrency": 1})
    first = bulkops("run", job, "--yes", cwd=tmp_path)
    assert first.code == 1, first.stderr
    sandbox.clear_stats()
    retry = bulkops("run", job, "--yes", "--retry-failed", cwd=tmp_path)
    assert retry.code == 0, retry.stderr
    stats = sandbox.stats_snapshot()
    assert sorted(stats["deleted_ids"]) == sorted([ids[1], ids[3]])
    assert retry.finished()["counts"]["deleted"] == 2

    again = bulkops("run", job, "--yes", "--retry-failed", cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert "nothing to do" in again.stderr and "no campaign's latest outcome" in again.stderr


def test_retry_failed_with_campaigns_file_is_a_usage_error(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    job = write_job(tmp_path, sandbox, sandbox.add_campaigns(count=1))
    result = bulkops("run", job, "--yes", "--retry-failed", "--campaigns-file", "x", cwd=tmp_path)
    assert result.code == 2 and "--retry-failed" in result.stderr


def test_the_retry_pipe_fails_on_a_wrong_log(tmp_path: Path, sandbox: SandboxThread) -> None:
    job = write_job(tmp_path, sandbox, sandbox.add_campaigns(count=2))
    (tmp_path / "wrong.jsonl").write_text("hello\n")
    py = sys.executable
    pipe = (
        f"set -o pipefail; {py} -m bulkops report wrong.jsonl --failed-ids | "
        f"{py} -m bulkops run {job} --campaigns-file - --yes"
    )
    proc = subprocess.run(
        ["bash", "-c", pipe], cwd=tmp_path, env=env(tmp_path), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "wrong.jsonl records no runs" in proc.stderr
    assert sandbox.stats_snapshot()["deleted_ids"] == []
