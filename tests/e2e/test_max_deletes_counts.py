"""``run.max_deletes`` counts what this run would delete, and a refused run is in the log."""

from __future__ import annotations

import json
from pathlib import Path

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, write_job


def _rows(prefix: str, status: str, count: int) -> list[dict[str, str]]:
    return [{"_id": f"{prefix}-{i}", "name": f"{prefix} {i}", "status": status}
            for i in range(count)]  # fmt: skip


def test_a_resume_counts_only_what_is_left(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=5)
    first = bulkops("run", write_job(tmp_path, sandbox, ids[:3]), "--yes", cwd=tmp_path)
    assert first.code == 0, first.stderr
    job = write_job(tmp_path, sandbox, ids, run={"max_deletes": 3})
    again = bulkops("run", job, "--yes", cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(ids)
    assert again.finished()["counts"]["skipped"] == 3


def _job_with_protected(
    tmp_path: Path, sandbox: SandboxThread, active: int, completed: int
) -> tuple[Path, list[str]]:
    """A job of ``active`` protected and ``completed`` deletable campaigns, max_deletes 2."""
    live = sandbox.add_campaigns(_rows("live", "Active", active))
    done = sandbox.add_campaigns(_rows("done", "Completed", completed))
    run = {"max_deletes": 2, "protect_status": ["Active"]}
    return write_job(tmp_path, sandbox, live + done, run=run), done


def test_protected_campaigns_do_not_count_in_a_run_or_a_dry_run(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    job, done = _job_with_protected(tmp_path, sandbox, active=3, completed=2)
    preview = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert preview.code == 0, preview.stderr
    assert "a real run would be refused" not in preview.stderr
    real = bulkops("run", job, "--yes", cwd=tmp_path)
    assert real.code == 0, real.stderr
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(done)
    assert real.finished()["counts"]["protected"] == 3


def test_a_dry_run_warns_with_the_count_the_real_run_refuses(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    job, _ = _job_with_protected(tmp_path, sandbox, active=1, completed=3)
    preview = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert preview.code == 0, preview.stderr
    assert "3 campaigns selected: a real run would be refused (run.max_deletes is 2)" in (
        preview.stderr
    )


def test_a_refused_run_is_a_run_in_the_audit_log(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=3)
    job = write_job(tmp_path, sandbox, ids, run={"max_deletes": 2})
    summary = tmp_path / "summary.json"
    result = bulkops("run", job, "--yes", "--summary-json", summary, cwd=tmp_path)
    assert result.code == 2, result.stderr
    assert "3 campaigns would be deleted, more than run.max_deletes (2)" in result.stderr
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]
    written = json.loads(summary.read_text())
    assert written["total"] == 3 and written["exit_code"] == 2
    runs = {r["run_id"] for r in result.audit}
    assert runs == {written["run_id"]}
    finished = result.finished()
    assert finished["exit_code"] == 2 and finished["counts"]["pending"] == 3
    assert "more than run.max_deletes (2)" in finished["error"]
    validated = bulkops("validate", job, cwd=tmp_path)
    assert validated.code == 2 and "max_deletes" in validated.stderr
    preview_job = write_job(tmp_path, sandbox, ids, run={"max_deletes": 2, "dry_run": True})
    assert bulkops("validate", preview_job, cwd=tmp_path).code == 0  # a preview is never refused
