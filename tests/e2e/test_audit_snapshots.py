"""Campaign lines keep what bulkops saw before the delete (``before``) and whether it
stopped the campaign first (``stopped``): what a restore rebuilds a campaign from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, write_job


def lines_by_id(result: Any) -> dict[str, dict[str, Any]]:
    return {line["campaign_id"]: line for line in result.campaigns()}


def test_a_select_run_keeps_each_v2_list_row_whole_as_before(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    rows = [
        {"_id": "cd-q-1", "name": "Queue one", "status": "Stopped", "dialingMode": "Progressive",
         "queue_name": "Billing"},
        {"_id": "cd-q-2", "name": "Queue two", "status": "Completed", "dialingMode": "Preview"},
    ]  # fmt: skip
    sandbox.add_campaigns(rows)
    target = {"host": sandbox.url, "app_id": "st-sandbox-app", "account_id": "acc-sandbox",
              "api": "v2"}  # fmt: skip
    job = write_job(tmp_path, sandbox, select={"name": "Queue *"}, target=target)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    lines = lines_by_id(result)
    assert {i: line["outcome"] for i, line in lines.items()} == dict.fromkeys(
        ["cd-q-1", "cd-q-2"], "deleted"
    )
    first = lines["cd-q-1"]["before"]
    assert first["name"] == "Queue one" and first["status"] == "Stopped"
    assert first["connection"] == "Billing"  # the v2 list row names the queue so
    assert {"createdAt", "updatedAt", "contactLists", "dialingMode"} <= set(first)
    assert lines["cd-q-2"]["before"]["connection"]  # a made-up queue, but one
    assert [line["stopped"] for line in lines.values()] == [False, False]


def test_stop_before_delete_says_stopped_and_keeps_the_status_look(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.add_campaigns(
        [
            {"_id": "cd-live", "name": "Dialing now", "status": "Active"},
            {"_id": "cd-done", "name": "Long done", "status": "Stopped"},
        ]
    )
    run = {"protect_status": [], "stop_before_delete": True}
    job = write_job(tmp_path, sandbox, ["cd-live", "cd-done"], run=run)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    lines = lines_by_id(result)
    assert lines["cd-live"]["outcome"] == "deleted" and lines["cd-live"]["stopped"] is True
    assert lines["cd-live"]["before"]["status"] == "Active"  # as the status look listed it
    assert lines["cd-live"]["before"]["name"] == "Dialing now"
    # never listed (the status look asks for Active ones only) nor fetched: nothing seen
    assert lines["cd-done"]["stopped"] is False and lines["cd-done"]["before"] is None


def test_a_preview_keeps_what_it_fetched_as_before(tmp_path: Path, sandbox: SandboxThread) -> None:
    sandbox.add_campaigns([{"_id": "cd-one", "name": "Only one", "status": "Stopped"}])
    job = write_job(tmp_path, sandbox, ["cd-one"])
    result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.stderr
    line = lines_by_id(result)["cd-one"]
    assert line["outcome"] == "would_delete" and line["stopped"] is False
    assert line["before"]["name"] == "Only one" and line["before"]["status"] == "Stopped"
