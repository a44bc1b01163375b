"""Previews that cost nothing: what reached the server for a dry run, and what the person read."""

from __future__ import annotations

import json
from pathlib import Path

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import NOTHING_KEPT, bulkops, write_job


def seed(
    sandbox: SandboxThread, n: int, status: str = "Stopped", prefix: str = "cd-p"
) -> list[str]:
    return sandbox.add_campaigns(
        [{"_id": f"{prefix}-{i:04d}", "name": f"Test {i}", "status": status} for i in range(n)]
    )


def test_a_select_dry_run_previews_from_the_list_answers_without_a_get(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = seed(sandbox, 250)
    job = write_job(tmp_path, sandbox, select={"status": ["Stopped"]})
    result = bulkops("run", job, "--dry-run", "--output", "json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    stats = sandbox.stats_snapshot()
    assert stats["by_method"] == {"POST": 3}  # 250 at 100 a page; not one GET per campaign
    assert {c["id"] for c in json.loads(result.stdout)["campaigns"]} == set(ids)
    assert result.outcomes() == dict.fromkeys(ids, "would_delete")
    line = result.campaigns()[0]
    assert line["attempts"] == 0 and line["campaign"]["name"].startswith("Test ")
    assert "no request beyond the list calls" in result.stderr


def test_an_id_job_lists_when_that_is_cheaper_and_says_what_it_costs(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = seed(sandbox, 30)
    job = write_job(tmp_path, sandbox, [*ids, "cd-gone"])
    result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert sandbox.stats_snapshot()["by_method"] == {"POST": 1}  # instead of 31 GETs
    assert result.outcomes() == {**dict.fromkeys(ids, "would_delete"), "cd-gone": "not_found"}
    said = [line for line in result.stderr.splitlines() if not line.startswith(NOTHING_KEPT)]
    assert said[0] == (
        "preview: at most 32 requests: 1 list call first, to see whether listing costs fewer "
        "requests than 31 GETs"
    )
    assert "1 list call in all, instead of 31 GETs" in result.stderr
    assert "1 id was not found (nothing to delete): cd-gone" in result.stdout


def test_an_id_job_in_a_big_account_gets_each_id_instead(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.add_campaigns(count=450)  # 5 pages: listing would cost 4 more calls
    ids = seed(sandbox, 3, prefix="cd-old")
    job = write_job(tmp_path, sandbox, ids)
    result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.stderr
    methods = sandbox.stats_snapshot()["methods"]
    assert methods[0] == "POST" and len(methods) <= 4 and methods.count("POST") == 1
    assert result.outcomes() == dict.fromkeys(ids, "would_delete")
    assert "GETs cost fewer requests than listing on (4 more pages)" in result.stderr


def test_exclude_ids_that_match_nothing_are_named_and_the_preview_lists_the_excluded(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns([{"_id": f"cd-x-{i}", "status": "Stopped"} for i in range(4)])
    job = write_job(tmp_path, sandbox, select={"status": ["Stopped"]},
                    exclude=["cd-x-1", "cd-x-l"])  # fmt: skip
    result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "1 exclude ids match none of the selected campaigns (a typo?): 'cd-x-l'" in (
        result.stderr
    )
    assert "3 campaigns would be deleted" in result.stdout
    assert "1 id left out by exclude: cd-x-1" in result.stdout
    id_job = write_job(tmp_path, sandbox, ids, exclude=["cd-x-9"])
    warned = bulkops("validate", id_job, cwd=tmp_path)
    assert "1 exclude ids match none of the campaigns (a typo?): 'cd-x-9'" in warned.stderr
