"""`bulkops report` says what happened: requests as the server saw them, each campaign counted
once by its latest outcome, and the failures it lists are those --failed-ids prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bulkops.cli.main import main
from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, write_job

LIMIT = ["5/0.2s"]  # 25/s at most: a dozen DELETEs take about half a second


def report_json(tmp_path: Path, *args: str) -> dict[str, Any]:
    result = bulkops("report", tmp_path / "audit.jsonl", "--format", "json", *args, cwd=tmp_path)
    assert result.code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_requests_are_those_the_server_answered_and_stay_under_the_limit(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=12)
    sandbox.configure(fail_always={ids[0]: 503})  # retried: each attempt is a request
    job = write_job(tmp_path, sandbox, ids, run={"rate": LIMIT, "max_attempts": 3})
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 1, result.stderr
    seen = sandbox.stats_snapshot()["total_requests"]
    assert seen == 14  # 11 DELETEs, 3 for the one that keeps failing
    assert result.finished()["requests"] == seen

    (run,) = report_json(tmp_path)["runs"]
    assert (run["requests"], run["requests_from"]) == (seen, "run_finished")
    # over the run plus one window of the limit: never above 25/s
    assert run["requests_per_s"] == round(seen / (run["duration_s"] + 0.2), 2) <= 25
    table = bulkops("report", tmp_path / "audit.jsonl", cwd=tmp_path).stdout
    assert (
        f"  requests {seen}  {run['requests_per_s']}/s (over the run + one 0.2 s window)  "
        "against the limit 5/0.2s (25.00/s)"
    ) in table.splitlines()


def test_a_dry_run_counts_its_list_and_get_calls_not_its_campaigns(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=30)
    job = write_job(tmp_path, sandbox, ids, run={"rate": LIMIT})
    assert bulkops("run", job, "--dry-run", cwd=tmp_path).code == 0
    seen = sandbox.stats_snapshot()["total_requests"]
    assert 0 < seen < 30  # the list calls, fewer than a GET per campaign
    (run,) = report_json(tmp_path)["runs"]
    assert run["requests"] == seen and run["counts"]["would_delete"] == 30
    assert run["requests_per_s"] <= 25


def test_totals_count_each_campaign_once_by_its_latest_outcome(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    live = sandbox.add_campaigns([{"status": "Active"}, {"status": "Active"}])
    gone = sandbox.add_campaigns([{"status": "Completed"} for _ in range(6)])
    sandbox.configure(fail_always={gone[0]: 400})
    job = write_job(tmp_path, sandbox, live + gone, run={"protect_status": ["Active"]})
    assert bulkops("run", job, "--yes", cwd=tmp_path).code == 1
    sandbox.configure(fail_always={})
    again = bulkops("run", job, "--yes", cwd=tmp_path)  # resume: 5 skipped, 1 deleted now
    assert again.code == 0, again.stderr
    assert again.finished()["counts"]["skipped"] == 5

    doc = report_json(tmp_path)
    assert doc["totals"] == {"deleted": 6, "not_found": 0, "failed": 0, "would_delete": 0,
                             "skipped": 0, "pending": 0, "protected": 2}  # fmt: skip
    assert bulkops("report", tmp_path / "audit.jsonl", "--failed-ids", cwd=tmp_path).stdout == ""
    markdown = bulkops("report", tmp_path / "audit.jsonl", "--format", "markdown", cwd=tmp_path)
    assert "### Failed campaigns" not in markdown.stdout and gone[0] not in markdown.stdout
    table = bulkops("report", tmp_path / "audit.jsonl", cwd=tmp_path).stdout
    assert gone[0] not in table
    assert "  1 campaign that failed here had a later outcome" in table.splitlines()


def test_the_report_keeps_dry_runs_out_of_the_totals(
    tmp_path: Path, sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = sandbox.add_campaigns([{"_id": f"cd-r-{i}", "status": "Stopped"} for i in range(3)])
    job = write_job(tmp_path, sandbox, ids)
    assert bulkops("run", job, "--dry-run", cwd=tmp_path).code == 0
    assert bulkops("run", job, "--yes", cwd=tmp_path).code == 0
    log = str(tmp_path / "audit.jsonl")
    assert main(["report", log, "--format", "json"]) == 0  # in this process: no start-up
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["deleted"] == 3 and doc["totals"]["would_delete"] == 0
    assert doc["dry_run_totals"]["would_delete"] == 3 and doc["dry_run_totals"]["deleted"] == 0
    assert main(["report", log]) == 0
    table = capsys.readouterr().out
    assert "totals (1 real run): deleted 3" in table
    assert (
        "dry runs (1, nothing deleted): deleted 0  not_found 0  failed 0  would_delete 3" in table
    )
