"""Nothing lost, nothing forged, nothing leaked: full disks, links, tampered plans, secrets.

Real files, real links, a real file size limit (RLIMIT_FSIZE in the child) against a
real sandbox on loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import (
    SECRET,
    Result,
    bulkops,
    count_lines,
    env,
    run_losing_a_directory,
    start_bulkops,
    wait_until,
    write_job,
)


def plan_digest(plan: dict[str, object]) -> str:
    """The digest a plan carries: HMAC-SHA256, keyed with the job's client secret, of its
    canonical JSON without the digest."""
    body = {k: v for k, v in plan.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "hmac-sha256:" + hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


def run_with_file_limit(job: Path, cwd: Path, limit: int, *args: str) -> Result:
    """bulkops run with RLIMIT_FSIZE set in the child: writes past ``limit`` bytes fail
    with EFBIG, as on a full disk (Python ignores SIGXFSZ)."""

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "bulkops", "run", str(job), "--yes", *args],
        cwd=cwd, env=env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60, preexec_fn=limit_files,
    )  # fmt: skip
    return Result(proc.returncode, proc.stdout, proc.stderr, cwd / "audit.jsonl")


def test_a_full_audit_log_stops_the_run_with_exit_3_and_no_unrecorded_delete(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=60)
    job = write_job(tmp_path, sandbox, ids, run={"concurrency": 4})
    summary, metrics = tmp_path / "summary.json", tmp_path / "bulkops.prom"
    result = run_with_file_limit(
        job, tmp_path, 9000, "--summary-json", str(summary), "--metrics-file", str(metrics)
    )
    assert result.code == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert f"the audit log {tmp_path / 'audit.jsonl'} could not be written: File too large" in (
        result.stderr
    )
    audit = result.audit  # every line whole: read_audit parses each one
    deleted = set(sandbox.stats_snapshot()["deleted_ids"])
    sent = {r["campaign_id"] for r in audit if r["event"] == "sent"}
    assert 0 < len(deleted) < len(ids)  # it stopped sending
    assert deleted <= sent  # and no campaign was deleted without a line recording it
    doc = json.loads(summary.read_text())
    assert doc["exit_code"] == 3 and doc["reason"] == "aborted" and "File too large" in doc["error"]
    assert doc["counts"]["deleted"] >= len({r["campaign_id"] for r in result.campaigns()})
    assert 'bulkops_last_run_exit_code{job="e2e"} 3.0' in metrics.read_text()

    again = bulkops("run", job, "--yes", cwd=tmp_path)
    assert again.code == 0, again.stderr
    in_flight = sent - {r["campaign_id"] for r in audit if r["event"] == "campaign"}
    if in_flight:
        assert "stopped before recording the answer" in again.stderr
    stats = sandbox.stats_snapshot()
    assert sorted(stats["deleted_ids"]) == sorted(ids)
    assert all(c["deletes"] == 1 for c in stats["campaigns"].values())
    # only what was in flight when the log stopped was asked twice (and answered 404)
    assert {i for i, c in stats["campaigns"].items() if c["delete_requests"] > 1} <= in_flight


def test_no_link_is_followed_for_the_log_lock_plan_or_summary(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=3)
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    job = write_job(tmp_path, sandbox, ids)
    log = tmp_path / "audit.jsonl"

    (tmp_path / "audit.jsonl.lock").symlink_to(victim)
    locked = bulkops("run", job, "--yes", cwd=tmp_path)
    assert locked.code == 2 and "audit lock file" in locked.stderr
    assert "symbolic link" in locked.stderr
    (tmp_path / "audit.jsonl.lock").unlink()

    log.symlink_to(victim)
    linked = bulkops("run", job, "--yes", cwd=tmp_path)
    assert linked.code == 2 and "symbolic link" in linked.stderr
    log.unlink()

    plan = tmp_path / "plan.json"
    plan.symlink_to(victim)
    planned = bulkops("run", job, "--yes", "--plan", plan, cwd=tmp_path)
    assert planned.code == 2 and "symbolic link" in planned.stderr

    summary = tmp_path / "summary.json"
    summary.symlink_to(victim)
    summarised = bulkops("run", job, "--yes", "--summary-json", summary, cwd=tmp_path)
    assert summarised.code == 2 and "--summary-json" in summarised.stderr
    assert summary.is_symlink()

    assert victim.read_text() == "keep me\n"
    assert sandbox.stats_snapshot()["total_requests"] == 0
    for result in (locked, linked, planned, summarised):
        assert "Traceback" not in result.stderr


def test_a_second_name_for_the_log_does_not_get_past_the_lock(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    # 400 requests of 0.25 s: the first run holds the log however slowly the others start,
    # until the SIGTERM below (which lets its one request in flight settle)
    ids = sandbox.add_campaigns(count=400)
    sandbox.configure(latency=0.25)
    job = write_job(tmp_path, sandbox, ids, run={"concurrency": 1, "timeout": 10})
    log = tmp_path / "audit.jsonl"
    first = start_bulkops("run", job, "--yes", cwd=tmp_path)
    wait_until("a sent line", lambda: count_lines(log, "sent") > 0, first)
    (tmp_path / "dir-alias").symlink_to(tmp_path, target_is_directory=True)
    alias = bulkops("run", job, "--yes", "--audit-log", tmp_path / "dir-alias/audit.jsonl",
                    cwd=tmp_path)  # fmt: skip
    assert alias.code == 2 and "in use by another bulkops run" in alias.stderr
    hard = tmp_path / "other-name.jsonl"
    os.link(log, hard)
    second = bulkops("run", job, "--yes", "--audit-log", hard, cwd=tmp_path)
    assert second.code == 2 and "hard links" in second.stderr
    assert first.poll() is None  # the checks above ran while the first run held the log
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=30)
    assert first.returncode == 143
    stats = sandbox.stats_snapshot()
    assert all(c["delete_requests"] == 1 for c in stats["campaigns"].values())


def test_file_system_errors_end_with_a_message_and_exit_2_before_anything_is_sent(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=3)
    (tmp_path / "audit-dir").mkdir()
    job = write_job(tmp_path, sandbox, ids, audit_log=str(tmp_path / "audit-dir"))
    is_dir = bulkops("run", job, "--yes", cwd=tmp_path)
    assert is_dir.code == 2 and "is a directory" in is_dir.stderr

    job = write_job(tmp_path, sandbox, ids)
    (tmp_path / "out").mkdir()
    summary_dir = bulkops("run", job, "--yes", "--summary-json", tmp_path / "out", cwd=tmp_path)
    assert summary_dir.code == 2 and "--summary-json" in summary_dir.stderr
    under_a_file = bulkops("run", job, "--yes", "--metrics-file", job / "m.prom", cwd=tmp_path)
    assert under_a_file.code == 2 and "cannot write in" in under_a_file.stderr
    for result in (is_dir, summary_dir, under_a_file):
        assert "Traceback" not in result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 0


def test_a_summary_file_that_cannot_be_written_after_deleting_exits_3(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    out = tmp_path / "out"  # the summary's directory is gone once the run ends
    code, err = run_losing_a_directory(sandbox, tmp_path, out, "--summary-json", out / "s.json")
    assert code == 3, err
    assert f"could not write {out / 's.json'}" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_log_is_refused_with_exit_2(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=2)
    job = write_job(tmp_path, sandbox, ids)
    (tmp_path / "audit.jsonl").write_text("")
    (tmp_path / "audit.jsonl").chmod(0o444)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 2 and "Permission denied" in result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 0


def test_edited_repeated_or_future_plans_are_refused(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=4)
    never_previewed = sandbox.add_campaigns(count=1)[0]
    job = write_job(tmp_path, sandbox, ids)
    plan = tmp_path / "plan.json"
    assert bulkops("run", job, "--dry-run", "--plan-out", plan, cwd=tmp_path).code == 0
    reviewed = json.loads(plan.read_text())
    assert reviewed["digest"] == plan_digest(reviewed)

    def variant(name: str, change: dict[str, object], *, resign: bool) -> Result:
        doc = {**reviewed, **change}
        if resign:  # past the digest, to reach the check behind it
            doc["digest"] = plan_digest(doc)
        path = tmp_path / name
        path.write_text(json.dumps(doc))
        return bulkops("run", job, "--yes", "--plan", path, cwd=tmp_path)

    added = variant("added.json", {"campaigns": [*reviewed["campaigns"], {"id": never_previewed}]},
                    resign=False)  # fmt: skip
    assert added.code == 2 and "does not match its digest" in added.stderr
    first = reviewed["campaigns"][0]
    repeated = variant("repeated.json", {"campaigns": [first, first, first]}, resign=True)
    assert repeated.code == 2 and "repeats campaigns[0]" in repeated.stderr
    future = variant("future.json", {"created_at": "2999-01-01T00:00:00.000Z"}, resign=True)
    assert future.code == 2 and "in the future" in future.stderr
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]
    assert bulkops("run", job, "--yes", "--plan", plan, cwd=tmp_path).code == 0
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(ids)


def test_a_secret_in_the_env_name_field_is_never_echoed(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    secret = "s3cr3tK0reValue9"
    auth = {"client_id": "cs-sandbox-demo", "client_secret_env": secret}
    job = write_job(tmp_path, sandbox, ["cd-1"], auth=auth)
    summary = tmp_path / "summary.json"
    for command in (("validate", job), ("run", job, "--yes", "--summary-json", summary)):
        result = bulkops(*command, cwd=tmp_path)
        assert result.code == 2 and "does not look like one" in result.stderr
        assert secret not in result.stderr + result.stdout
    assert secret not in summary.read_text()
