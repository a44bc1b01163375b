"""Campaigns that go Active while a long run goes on are not deleted on an old status.

The sandbox flips campaigns to Active mid-run (``flip_active``) and records when;
with ``run.status_max_age: 2s`` none may be deleted more than 2 s after it went
Active, and each look again is a request the sandbox saw (a list call).
"""

from __future__ import annotations

from pathlib import Path

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, write_job

MAX_AGE = 2.0


def test_a_campaign_that_goes_active_mid_run_is_not_deleted_on_an_old_status(
    tmp_path: Path,
) -> None:
    with SandboxThread(campaigns=0, seed=11, flip_active=((0.3, 10),)) as sandbox:
        ids = sandbox.add_campaigns(
            [{"_id": f"cd-{i:02d}", "name": f"Old {i}", "status": "Stopped"} for i in range(60)]
        )
        run = {"protect_status": ["Active"], "status_max_age": "2s", "rate": "10/s",
               "concurrency": 2}  # fmt: skip
        job = write_job(tmp_path, sandbox, ids, run=run)
        result = bulkops("run", job, "--yes", cwd=tmp_path)
        stats = sandbox.stats_snapshot()
    assert result.code == 0, result.stderr
    went_active = {c["campaign_id"]: c["at"] for c in stats["status_changes"]}
    assert len(went_active) == 10
    late = {
        i: round(stats["deleted_at"][i] - at, 2)
        for i, at in went_active.items()
        if i in stats["deleted_at"] and stats["deleted_at"][i] - at > MAX_AGE
    }
    assert late == {}, f"deleted more than {MAX_AGE}s after going Active: {late}"
    outcomes = result.outcomes()
    kept = {i for i, o in outcomes.items() if o == "protected"}
    assert kept and kept <= set(went_active)  # the run saw some go Active, and kept them
    assert result.finished()["counts"]["protected"] == len(kept)
    assert "statuses looked at again" in result.stderr
    assert len(stats["list_calls"]) >= 2  # the first look, and at least one more
