"""Live campaigns: protect_status keeps them, stop_before_delete stops them before the delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops
from tests.e2e.harness import write_job as write_fast_job
from tests.e2e.test_terminal import Terminal


def write_job(tmp_path: Path, sandbox: SandboxThread, ids: list[str] | None = None,
              *, run: dict[str, Any] | None = None, **fields: Any) -> Path:  # fmt: skip
    """The harness's job without its ``protect_status: []``: the job's default applies."""
    path = write_fast_job(tmp_path, sandbox, ids, **fields)
    job = yaml.safe_load(path.read_text())
    del job["run"]["protect_status"]
    job["run"].update(run or {})
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path


def mix(sandbox: SandboxThread) -> tuple[list[str], list[str]]:
    """Three Active and five Stopped campaigns: (active ids, stopped ids)."""
    active = [f"cd-live-{i}" for i in range(3)]
    stopped = [f"cd-done-{i}" for i in range(5)]
    rows = [{"_id": i, "name": f"Dialing {i}", "status": "Active"} for i in active]
    rows += [{"_id": i, "name": f"Old {i}", "status": "Stopped"} for i in stopped]
    sandbox.add_campaigns(rows)
    return active, stopped


def test_active_campaigns_are_protected_by_default_in_preview_and_run(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    active, stopped = mix(sandbox)
    job = write_job(tmp_path, sandbox, select={"name": "*"})
    preview = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert preview.code == 0, preview.stderr
    assert "5 campaigns would be deleted" in preview.stdout
    shown = preview.stdout.split("3 campaigns are protected and would not be deleted")[1]
    assert all(i in shown for i in active) and "status Active: run.protect_status" in shown
    real = bulkops("run", job, "--yes", cwd=tmp_path)
    assert real.code == 0, real.stderr
    stats = sandbox.stats_snapshot()
    assert sorted(stats["deleted_ids"]) == sorted(stopped)
    assert not set(stats["campaigns"]) & set(active)  # not one DELETE asked for them
    assert {i: real.outcomes()[i] for i in active} == dict.fromkeys(active, "protected")
    assert real.finished()["counts"]["protected"] == 3 and real.finished()["exit_code"] == 0
    assert "protected 3" in real.stderr


def test_an_id_job_learns_statuses_with_one_list_call_not_a_get_each(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    active, stopped = mix(sandbox)
    sandbox.add_campaigns(count=300)  # other campaigns of the account; some of them Active too
    job = write_job(tmp_path, sandbox, active + stopped)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    stats = sandbox.stats_snapshot()
    assert sorted(stats["deleted_ids"]) == sorted(stopped)
    assert "GET" not in stats["by_method"]
    assert [b["filters"] for b in stats["list_calls"]] == [{"status": ["Active"]}]
    assert "checking statuses (Active): 1 list call in all, instead of 8 GETs" in result.stderr


def test_stop_before_delete_stops_an_active_campaign_first(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    active, stopped = mix(sandbox)
    run = {"protect_status": [], "stop_before_delete": True}
    job = write_job(tmp_path, sandbox, [active[0], stopped[0]], run=run)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    stats = sandbox.stats_snapshot()
    assert stats["stopped_ids"] == [active[0]]  # the Stopped one is not stopped again
    assert sorted(stats["deleted_ids"]) == sorted([active[0], stopped[0]])
    # the Stop call reached the server before the DELETE: the deleted snapshot says Stopped
    line = next(r for r in result.campaigns() if r["campaign_id"] == active[0])
    assert line["outcome"] == "deleted" and line["campaign"]["status"] == "Stopped"
    assert "1 Active campaign is stopped (Kore.ai's Stop call) before its delete" in (result.stderr)


def test_stop_before_delete_with_active_protected_is_refused(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    job = write_job(tmp_path, sandbox, ["cd-1"], run={"stop_before_delete": True})
    result = bulkops("validate", job, cwd=tmp_path)
    assert result.code == 2
    assert "run.stop_before_delete: Active campaigns are protected" in result.stderr
    assert "protect_status: []" in result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 0


def test_list_marks_the_protected_campaigns(tmp_path: Path, sandbox: SandboxThread) -> None:
    active, stopped = mix(sandbox)
    job = write_job(tmp_path, sandbox, select={"name": "*"})
    result = bulkops("list", job, "--output", "json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    rows = {r["id"]: r["protected"] for r in json.loads(result.stdout)["campaigns"]}
    assert rows == {**dict.fromkeys(active, True), **dict.fromkeys(stopped, False)}


def test_the_prompt_counts_only_what_will_be_deleted_and_says_what_is_kept(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    active, stopped = mix(sandbox)
    term = Terminal("run", write_job(tmp_path, sandbox, active + stopped), cwd=tmp_path)
    screen = term.read_until("Type 'yes' to continue")
    assert "3 campaigns are protected (status Active: run.protect_status): they are kept" in screen
    assert "About to DELETE 5 campaigns from " + sandbox.url in screen
    term.type("no\n")
    assert term.wait() == 2
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]


def test_protecting_nothing_is_said_by_validate_the_preview_and_the_run(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    active, stopped = mix(sandbox)
    job = write_job(tmp_path, sandbox, [*active, *stopped], run={"protect_status": []})
    words = "run.protect_status is []: no status is protected, so live (Active) campaigns are"
    for args in (("validate", job), ("run", job, "--dry-run"), ("run", job, "--yes")):
        result = bulkops(*args, cwd=tmp_path)
        assert result.code == 0, result.stderr
        assert words in result.stderr, (args, result.stderr)
