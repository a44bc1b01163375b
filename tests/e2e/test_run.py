"""The CLI against the sandbox: what reached the server, the audit log, the exit code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import BOTH_DIALECTS, SECRET, bulkops, write_job


def seed(sandbox: SandboxThread, n: int) -> list[str]:
    return sandbox.add_campaigns(count=n)


@BOTH_DIALECTS
def test_happy_path_deletes_each_id_once_and_audits_it(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = seed(sandbox, 30)
    job = write_job(tmp_path, sandbox, ids)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    stats = sandbox.stats_snapshot()
    assert sorted(stats["deleted_ids"]) == sorted(ids)
    assert all(c["delete_requests"] == 1 for c in stats["campaigns"].values())
    started, *between, finished = result.audit
    assert (
        started["event"] == "run_started" and started["total"] == 30 and started["dry_run"] is False
    )
    lines = [r for r in between if r["event"] == "campaign"]
    sent = [r["campaign_id"] for r in between if r["event"] == "sent"]
    assert sorted(sent) == sorted(ids)  # one write-ahead line per DELETE, before its outcome
    sent_at = {r["campaign_id"]: i for i, r in enumerate(between) if r["event"] == "sent"}
    assert all(sent_at[r["campaign_id"]] < between.index(r) for r in lines)
    assert started["target"] == {
        "host": sandbox.url,
        "app_id": "st-sandbox-app",
        "account_id": "acc-sandbox",
    }
    assert {r["campaign_id"] for r in lines} == set(ids)
    one = lines[0]
    assert one["outcome"] == "deleted" and one["http_status"] == 200 and one["attempts"] == 1
    assert one["campaign"]["_id"] == one["campaign_id"] and one["message"].endswith(
        "deleted successfully"
    )
    assert one["error"] is None and isinstance(one["duration_ms"], int)
    assert finished["counts"] == {"deleted": 30, "not_found": 0, "failed": 0, "would_delete": 0,
                                  "skipped": 0, "pending": 0, "protected": 0}  # fmt: skip
    assert finished["exit_code"] == 0 and finished["reason"] == "completed"
    for record in result.audit:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
        assert record["run_id"] == started["run_id"] and record["job"] == "e2e"


@BOTH_DIALECTS
def test_dry_run_sends_no_delete_and_shows_the_table(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = seed(sandbox, 5)
    job = write_job(tmp_path, sandbox, [*ids, "cd-missing"])
    result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.stderr
    stats = sandbox.stats_snapshot()
    assert stats["by_method"] == {"POST": 1}  # one list page holds them all: cheaper than 6 GETs
    assert result.outcomes() == {**dict.fromkeys(ids, "would_delete"), "cd-missing": "not_found"}
    assert result.audit[0]["dry_run"] is True
    assert "5 campaigns would be deleted" in result.stdout
    for cid in ids:
        assert cid in result.stdout


@BOTH_DIALECTS
def test_404_is_not_found_and_success(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = seed(sandbox, 2)
    result = bulkops(
        "run", write_job(tmp_path, sandbox, [*ids, "cd-gone-1"]), "--yes", cwd=tmp_path
    )
    assert result.code == 0
    assert result.outcomes()["cd-gone-1"] == "not_found"
    assert result.finished()["counts"]["not_found"] == 1


def test_transient_errors_and_dropped_connections_recover(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = seed(sandbox, 4)
    sandbox.configure(scripted={ids[0]: [503, 0, 502], ids[1]: [0], ids[2]: [500, 504, 408]})
    result = bulkops("run", write_job(tmp_path, sandbox, ids), "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    attempts = {r["campaign_id"]: r["attempts"] for r in result.campaigns()}
    assert attempts == {ids[0]: 4, ids[1]: 2, ids[2]: 4, ids[3]: 1}
    stats = sandbox.stats_snapshot()
    # exactly one request per attempt reached the server: no silent resends
    assert {cid: c["delete_requests"] for cid, c in stats["campaigns"].items()} == attempts


def test_retries_used_up_fail_with_exit_1(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = seed(sandbox, 3)
    sandbox.configure(fail_always={ids[0]: 503})
    result = bulkops("run", write_job(tmp_path, sandbox, ids), "--yes", cwd=tmp_path)
    assert result.code == 1
    failed = [r for r in result.campaigns() if r["outcome"] == "failed"]
    assert len(failed) == 1 and failed[0]["campaign_id"] == ids[0]
    assert failed[0]["attempts"] == 4 and failed[0]["http_status"] == 503
    assert "gave up after 4 attempts" in failed[0]["error"]
    assert result.finished()["exit_code"] == 1


def test_other_4xx_fails_with_the_server_message(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = seed(sandbox, 2)
    sandbox.configure(scripted={ids[0]: [400]})
    result = bulkops("run", write_job(tmp_path, sandbox, ids), "--yes", cwd=tmp_path)
    assert result.code == 1
    record = next(r for r in result.campaigns() if r["campaign_id"] == ids[0])
    assert (
        record["message"] == "Campaign is running and cannot be deleted" and record["attempts"] == 1
    )


def test_429_waits_for_retry_after(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = seed(sandbox, 1)
    sandbox.configure(scripted={ids[0]: [429]}, scripted_retry_after=0.6, retry_after_mode="exact")
    result = bulkops(
        "run", write_job(tmp_path, sandbox, ids, run={"concurrency": 1}), "--yes", cwd=tmp_path
    )
    assert result.code == 0
    record = result.campaigns()[0]
    assert record["attempts"] == 2 and record["outcome"] == "deleted"
    assert record["duration_ms"] >= 600


def test_strict_rolling_window_server_never_answers_429(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = seed(sandbox, 45)
    sandbox.configure(rates=["10/0.5s", "25/2s"])
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["10/0.5s", "25/2s"], "concurrency": 16})
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    stats = sandbox.stats_snapshot()
    assert stats["rate_limited"] == 0 and stats["total_requests"] == 45
    arrivals = sorted(stats["arrivals"])
    # and the limiter did not dawdle: 45 at 25/2s is ideally 2 * 2 s = 4 s from first to last
    assert arrivals[-1] - arrivals[0] < 4 * 1.25


def test_concurrency_cap_is_observed_by_the_server(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = seed(sandbox, 24)
    sandbox.configure(latency=0.05)
    result = bulkops(
        "run", write_job(tmp_path, sandbox, ids, run={"concurrency": 3}), "--yes", cwd=tmp_path
    )
    assert result.code == 0
    assert sandbox.stats_snapshot()["max_in_flight"] == 3


@BOTH_DIALECTS
@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_aborts_with_exit_3(
    tmp_path: Path, sandbox: SandboxThread, status: int
) -> None:
    ids = seed(sandbox, 40)
    sandbox.configure(auth_status=status)
    result = bulkops(
        "run", write_job(tmp_path, sandbox, ids, run={"concurrency": 2}), "--yes", cwd=tmp_path
    )
    assert result.code == 3
    finished = result.finished()
    assert finished["reason"] == "aborted" and finished["exit_code"] == 3
    assert sandbox.stats_snapshot()["total_requests"] <= 2  # at most what was in flight
    assert finished["counts"]["pending"] >= 38
    assert sum(finished["counts"].values()) == 40
    assert f"HTTP {status}" in result.stderr


@BOTH_DIALECTS
def test_wrong_secret_aborts_and_no_secret_or_token_leaks(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = seed(sandbox, 3)
    wrong = "a-wrong-secret-that-is-long-enough-0123456789"
    result = bulkops(
        "run", write_job(tmp_path, sandbox, ids), "--yes", cwd=tmp_path, KOREAI_CLIENT_SECRET=wrong
    )
    assert result.code == 3
    audit_text = (tmp_path / "audit.jsonl").read_text()
    for text in (result.stdout, result.stderr, audit_text):
        assert wrong not in text and SECRET not in text
        assert "eyJ" not in text  # no JWT (base64 of '{"') anywhere


def test_no_secret_or_token_in_a_normal_run(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = seed(sandbox, 3)
    result = bulkops("run", write_job(tmp_path, sandbox, [*ids, "cd-x"]), "--yes", cwd=tmp_path)
    audit_text = (tmp_path / "audit.jsonl").read_text()
    for text in (result.stdout, result.stderr, audit_text):
        assert SECRET not in text and "eyJ" not in text


def test_without_a_terminal_yes_is_required(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = seed(sandbox, 2)
    result = bulkops("run", write_job(tmp_path, sandbox, ids), cwd=tmp_path)
    assert result.code == 2 and "--yes" in result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 0
    assert not (tmp_path / "audit.jsonl").exists()


def test_a_pre_made_token_is_used_until_it_expires(tmp_path: Path, sandbox: SandboxThread) -> None:
    import time

    from bulkops.kore.tokens import JwtMinter

    ids = seed(sandbox, 2)
    auth = {"client_id": "cs-sandbox-demo", "token_env": "KOREAI_TOKEN"}
    job = write_job(tmp_path, sandbox, ids, auth=auth)
    fresh = JwtMinter("cs-sandbox-demo", SECRET).token()
    result = bulkops("run", job, "--yes", "--fresh", cwd=tmp_path, KOREAI_TOKEN=fresh)
    # one token for every request: the sandbox, like Kore.ai with "Enforce JTI", refuses its reuse
    assert result.code == 3 and "jti" in result.stderr
    assert fresh not in result.stderr + result.stdout + (tmp_path / "audit.jsonl").read_text()

    sandbox.clear_stats()
    expired = JwtMinter("cs-sandbox-demo", SECRET, ttl=60, clock=lambda: time.time() - 120).token()
    result = bulkops("run", job, "--yes", "--fresh", cwd=tmp_path, KOREAI_TOKEN=expired)
    assert result.code == 3 and "expired" in result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 0
