"""The operator's loop: list, ids for pipes, the retry pipe, a log that stays put, clear aborts."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bulkops.cli.main import main
from bulkops.sandbox import SandboxThread
from tests.e2e.harness import SECRET, bulkops, env, write_job


def named(sandbox: SandboxThread, n: int, status: str = "Stopped") -> list[str]:
    rows = [{"_id": f"cd-op-{i:03d}", "name": f"Billing {i}", "status": status} for i in range(n)]
    return sandbox.add_campaigns(rows)


def test_list_csv_keeps_a_formula_in_a_campaign_name_as_text(
    tmp_path: Path,
    sandbox: SandboxThread,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOREAI_CLIENT_SECRET", SECRET)
    sandbox.add_campaigns([{"_id": "cd-formula", "name": "=HYPERLINK(1)", "status": "Stopped"}])
    job = write_job(tmp_path, sandbox, select={"status": ["Stopped"]})
    assert main(["list", str(job), "--output", "csv"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["name"] == "'=HYPERLINK(1)"  # as the report's CSV does: a spreadsheet runs none


def test_list_shows_what_a_select_job_finds_in_every_format(
    tmp_path: Path,
    sandbox: SandboxThread,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOREAI_CLIENT_SECRET", SECRET)
    ids = named(sandbox, 12)
    sandbox.add_campaigns([{"_id": "cd-other", "name": "Survey", "status": "Stopped"}])
    job = write_job(tmp_path, sandbox, select={"name": "Billing*"}, exclude=["cd-op-000"])
    table = bulkops("list", job, cwd=tmp_path)
    assert table.code == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["id", "name", "status", "created", "protected"]
    assert "cd-op-005  Billing 5" in table.stdout and "cd-other" not in table.stdout
    assert "11 campaigns on " in table.stderr and "nothing was deleted" in table.stderr
    assert "1 id left out by exclude: cd-op-000" in table.stderr
    # the other formats in this process: the same command, without a second's start-up each
    assert main(["list", str(job), "--output", "ids"]) == 0
    assert sorted(capsys.readouterr().out.split()) == ids[1:]
    assert main(["list", str(job), "--output", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["id"] for r in rows} == set(ids[1:]) and rows[0]["status"] == "Stopped"
    assert {"name", "createdAt", "protected"} <= set(rows[0])
    assert main(["list", str(job), "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["count"] == 11 and doc["excluded"] == ["cd-op-000"]
    stats = sandbox.stats_snapshot()
    assert set(stats["by_method"]) == {"POST"} and stats["deleted_ids"] == []
    assert not (tmp_path / "audit.jsonl").exists()  # a listing is no run


def test_list_of_an_id_job_says_which_ids_exist(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = named(sandbox, 3)
    job = write_job(tmp_path, sandbox, [*ids, "cd-typo"])
    result = bulkops("list", job, "--output", "ids", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert sorted(result.stdout.split()) == ids
    assert "1 id does not exist: cd-typo" in result.stderr


def test_dry_run_output_ids_prints_only_what_would_be_deleted(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = named(sandbox, 4)
    job = write_job(tmp_path, sandbox, [*ids, "cd-gone"])
    result = bulkops("run", job, "--dry-run", "--output", "ids", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ids


def test_the_retry_pipe_and_an_empty_list_that_means_nothing_to_do(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = named(sandbox, 6)
    sandbox.configure(fail_always={ids[1]: 503, ids[4]: 400})
    job = write_job(tmp_path, sandbox, ids)
    assert bulkops("run", job, "--yes", cwd=tmp_path).code == 1
    sandbox.configure(fail_always={})
    sandbox.clear_stats()
    pipe = f"{sys.executable} -m bulkops report audit.jsonl --failed-ids | " + (
        f"{sys.executable} -m bulkops run {job} --campaigns-file - --yes"
    )
    retry = subprocess.run(pipe, shell=True, cwd=tmp_path, env=env(), capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert retry.returncode == 0, retry.stderr
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted([ids[1], ids[4]])
    assert sandbox.stats_snapshot()["by_method"] == {"DELETE": 2}  # only the two retried
    again = subprocess.run(pipe, shell=True, cwd=tmp_path, env=env(), capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "nothing to do: --campaigns-file stdin: it holds no campaign ids" in again.stderr
    assert sandbox.stats_snapshot()["by_method"] == {"DELETE": 2}  # nothing more sent


def test_the_audit_log_is_found_from_any_working_directory(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = named(sandbox, 4)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    job = write_job(jobs, sandbox, ids, audit_log="audit/e2e.jsonl")
    assert bulkops("run", job, "--yes", cwd=jobs).code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = bulkops("run", job, "--yes", cwd=elsewhere)
    assert again.code == 0, again.stderr
    assert "skipping 4 campaigns already done" in again.stderr
    assert not (elsewhere / "audit").exists()
    log = [json.loads(line) for line in (jobs / "audit" / "e2e.jsonl").read_text().splitlines()]
    assert log[-1]["counts"]["skipped"] == 4
    assert sandbox.stats_snapshot()["by_method"] == {"DELETE": 4}  # not one sent again


def test_an_aborted_preview_shows_no_table_and_names_the_fields_to_check(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = named(sandbox, 5)
    sandbox.configure(auth_status=401)
    job = write_job(tmp_path, sandbox, [ids[0]])  # one id: its GET meets the 401
    result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 3
    assert result.stdout == ""  # no empty table, no "0 campaigns would be deleted"
    error = result.stderr.split("error: aborted: ")[1]
    assert error.startswith("HTTP 401: ") and "check the client secret" in error
    assert "environment variable KOREAI_CLIENT_SECRET" in error and "target.app_id" in error
    assert "auth.client_id" in error and error.count("check ") == 1
    assert f"on the request for campaign {ids[0]}" in error
    one_at_a_time = write_job(tmp_path, sandbox, ids, run={"concurrency": 1})
    result = bulkops("run", one_at_a_time, "--yes", cwd=tmp_path)
    assert result.code == 3 and result.stdout == ""
    assert result.finished()["counts"] == {**result.finished()["counts"], "failed": 1, "pending": 4}
    assert "4 campaigns not attempted stay pending: rerun once fixed" in result.stderr


@pytest.mark.parametrize("selects", [True, False])
def test_list_of_a_v2_job_is_sent_on_v2_paths(
    tmp_path: Path, sandbox: SandboxThread, selects: bool
) -> None:
    ids = sandbox.add_campaigns([{"_id": f"cd-v2-{i}", "status": "Stopped"} for i in range(3)])
    target = {"host": sandbox.url, "app_id": "st-sandbox-app", "account_id": "acc-sandbox",
              "api": "v2"}  # fmt: skip
    if selects:
        job = write_job(tmp_path, sandbox, select={"status": ["Stopped"]}, target=target)
    else:
        job = write_job(tmp_path, sandbox, ids, target=target)
    result = bulkops("list", job, "--output", "ids", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert sorted(result.stdout.split()) == ids
    stats = sandbox.stats_snapshot()
    assert stats["total_requests"] > 0 and stats["by_api"] == {"v2": stats["total_requests"]}


def test_the_jobs_warnings_are_kept_under_campaigns_file(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=3)
    job = write_job(tmp_path, sandbox, ids, exclude=["cd-typo"])
    job.write_text(job.read_text().replace("name: e2e\n", "name: e2e #2\n"))
    (tmp_path / "retry.txt").write_text(f"{ids[0]}\n{ids[1]}\n{ids[0]}\n")
    result = bulkops("run", job, "--dry-run", "--campaigns-file", "retry.txt", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "'#2' after a space starts a YAML comment" in result.stderr
    assert "1 exclude ids match none of the campaigns of --campaigns-file (a typo?): 'cd-typo'" in (
        result.stderr
    )
    assert "1 duplicate campaign ids removed (first: " in result.stderr
    assert "2 campaigns would be deleted" in result.stdout
