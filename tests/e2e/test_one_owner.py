"""The defects of a run whose parts had several owners, seen from outside (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, read_audit, run_losing_a_directory, write_job


def most_in_any_second(arrivals: list[float]) -> int:
    """The most requests the server admitted within any one second."""
    times = sorted(arrivals)
    return max((sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times)),
               default=0)  # fmt: skip


def test_stop_then_delete_at_one_a_second_never_holds_a_slot_while_waiting(
    tmp_path: Path,
) -> None:
    """Each Stop call takes a slot of its own and is answered before its DELETE is sent: four
    Active campaigns at 1/s, concurrency 2, against a server that refuses a second request
    within a second, take 9 requests in 9 slots, none refused."""
    active = [f"cd-live-{i}" for i in range(4)]
    with SandboxThread(campaigns=0, seed=7, rates=("1/s",)) as sandbox:
        sandbox.add_campaigns([{"_id": i, "status": "Active"} for i in active])
        run = {"rate": "1/s", "concurrency": 2, "stop_before_delete": True}
        job = write_job(tmp_path, sandbox, active, run=run)
        result = bulkops("run", job, "--yes", cwd=tmp_path, timeout=60)
        stats = sandbox.stats_snapshot()
    assert result.code == 0, result.stderr
    assert sorted(stats["stopped_ids"]) == active and sorted(stats["deleted_ids"]) == active
    assert stats["rate_limited"] == 0
    assert most_in_any_second(stats["arrivals"]) == 1
    assert stats["total_requests"] == 9  # one list call, then a Stop and a DELETE each
    # nine requests at 1/s: eight seconds from the first to the last, not a stall per pair
    took = stats["last_request_at"] - stats["first_request_at"]
    assert took < 12, f"the requests took {took:.1f}s"
    assert all(line["campaign"]["status"] == "Stopped" for line in result.campaigns())
    finished = result.finished()
    assert (finished["requests"], finished["error"], finished["exit_code"]) == (9, None, 0)


RAW = ("\x1b", "\x07", "\u202e", "\x9b", "\x85")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_control_and_bidi_characters_of_an_abort_message_never_reach_the_terminal_raw(
    tmp_path: Path, sandbox: SandboxThread, log_format: str
) -> None:
    ids = sandbox.add_campaigns(count=2)
    message = "denied\x1b[2J\x07 by \u202epolicy\x9b1m\x85"
    sandbox.configure(auth_status=401, auth_message=message)
    job = write_job(tmp_path, sandbox, ids)
    result = bulkops("run", job, "--yes", "--log-format", log_format, cwd=tmp_path)
    assert result.code == 3, result.stderr
    said = result.stderr
    if log_format == "json":
        said = "\n".join(json.loads(line)["message"] for line in said.splitlines())
    assert "denied\\x1b[2J\\x07 by \\u202epolicy" in said
    for char in RAW:
        assert char not in result.stderr and char not in result.stdout
    listed = bulkops("list", job, cwd=tmp_path)
    assert listed.code == 3 and "\\u202epolicy" in listed.stderr
    assert not any(char in listed.stderr + listed.stdout for char in RAW)


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


def test_a_metrics_file_that_cannot_be_written_gives_one_exit_code_everywhere(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    code, err = run_losing_a_directory(
        sandbox, tmp_path, out, "--summary-json", summary, "--metrics-file", out / "m.prom"
    )
    finished = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "run_finished"]
    assert code == 3, err
    assert finished[-1]["exit_code"] == 3
    assert f"could not write {out / 'm.prom'}" in finished[-1]["error"]
    assert json.loads(summary.read_text())["exit_code"] == 3
    assert f"could not write {out / 'm.prom'}" in err and "exit 3" in err
    assert err.count("could not write") == 1 and "Traceback" not in err


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
