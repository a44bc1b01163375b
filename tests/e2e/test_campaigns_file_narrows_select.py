"""``--campaigns-file`` into a ``select`` job touches only the ids the job's filters match."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, write_job


def _days_ago(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_only_ids_the_select_matches_are_deleted(tmp_path: Path, sandbox: SandboxThread) -> None:
    sandbox.add_campaigns(
        [{"_id": "cd-old", "name": "Test old", "status": "Stopped", "createdAt": _days_ago(40)},
         {"_id": "cd-new", "name": "Test new", "status": "Stopped", "createdAt": _days_ago(20)},
         {"_id": "cd-done", "name": "Test done", "status": "Completed",
          "createdAt": _days_ago(40)}]
    )  # fmt: skip
    job = write_job(tmp_path, sandbox, select={"status": ["Stopped"], "created_before": "30d"})
    (tmp_path / "given.txt").write_text("cd-old\ncd-new\ncd-done\n")
    result = bulkops("run", job, "--yes", "--campaigns-file", "given.txt", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert sandbox.stats_snapshot()["deleted_ids"] == ["cd-old"]
    assert (
        "2 ids of --campaigns-file are not matched by the job's select, left alone: "
        "'cd-new', 'cd-done'" in result.stderr
    )
    assert set(result.outcomes()) == {"cd-old"}
