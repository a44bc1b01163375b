"""A plan runs only the campaigns the job's ``select`` still matches.

A plan is reviewed, then run later; meanwhile a planned campaign may have been
renamed or its status changed so that the job no longer selects it. The run
lists the selection again: a planned id it does not match is left alone, named
in a warning, and never sent a DELETE; the rest of the plan runs as reviewed.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import bulkops, write_job
from tests.e2e.hostile import HostileServer, as_json

SELECT = {"status": ["Stopped"], "name": "Test*"}


def listing(n: int) -> tuple[int, bytes]:
    """The preview (call 1) sees two test campaigns; later, cd-2 is renamed for production."""
    renamed = "Test 2" if n == 1 else "Prod keep"
    results = [
        {"_id": "cd-1", "name": "Test 1", "status": "Stopped"},
        {"_id": "cd-2", "name": renamed, "status": "Stopped"},
    ]
    return as_json({"status": "success", "data": {"results": results, "hasMore": False}})


def test_a_planned_campaign_the_select_no_longer_matches_is_left_alone(tmp_path: Path) -> None:
    deleted = as_json({"status": "success", "message": "Campaign deleted"})
    with HostileServer(list=listing, delete=lambda n: deleted) as srv:
        job = write_job(tmp_path, srv, select=SELECT)
        plan = tmp_path / "plan.json"
        preview = bulkops("run", job, "--dry-run", "--plan-out", plan, cwd=tmp_path)
        assert preview.code == 0, preview.stderr
        result = bulkops("run", job, "--plan", plan, "--yes", cwd=tmp_path)
        assert srv.calls["delete"] == 1  # cd-1 only
    assert result.code == 0, result.stderr
    last = result.audit[-1]["run_id"]
    real = {r["campaign_id"]: r["outcome"] for r in result.campaigns() if r["run_id"] == last}
    assert real == {"cd-1": "deleted"}
    assert "1 id of the plan is not matched by the job's select, left alone: 'cd-2'" in (
        result.stderr
    )
