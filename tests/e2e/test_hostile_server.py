"""A hostile server: answers nested too deep, and lists that never end or never move.

Each case ends where the answer is read, with its exit code and one clear line:
never a traceback, never an audit line bulkops cannot write back, never paging
on and on at the account's whole rate budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import Result, bulkops, write_job
from tests.e2e.hostile import HostileServer, as_json, deep


def page(first: int, count: int = 100, **extra: object) -> tuple[int, bytes]:
    results = [{"_id": f"cd-{first + i}", "name": "N", "status": "Stopped"} for i in range(count)]
    return as_json({"status": "success", "data": {"results": results, **extra}})


def assert_told(result: Result, code: int, words: str) -> None:
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr and words in result.stderr, result.stderr


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_a_delete_answer_nested_too_deep_fails_the_campaign_and_reruns_alike(
    tmp_path: Path, levels: int
) -> None:
    with HostileServer(delete=lambda n: (200, deep(levels))) as srv:
        job = write_job(tmp_path, srv, ["cd-1", "cd-2"])
        for _ in range(2):  # the log it wrote is readable: the rerun does the same, no crash
            result = bulkops("run", job, "--yes", cwd=tmp_path)
            assert_told(result, 1, "failed 2")
            assert result.outcomes() == {"cd-1": "failed", "cd-2": "failed"}
            errors = {r["error"] for r in result.campaigns()}
            assert errors == {
                "HTTP 200, but not a success: answer was JSON nested deeper than 64 levels"
            }
            assert result.finished()["exit_code"] == 1
        assert srv.calls["delete"] == 4
    sent = [r["campaign_id"] for r in result.audit if r["event"] == "sent"]
    settled = [r["campaign_id"] for r in result.campaigns()]
    assert sorted(sent) == sorted(settled)  # every sent line has its outcome


def test_a_list_answer_nested_too_deep_is_a_clear_exit_3(tmp_path: Path) -> None:
    with HostileServer(list=lambda n: (200, deep(100_000))) as srv:
        job = write_job(tmp_path, srv, select={"status": ["Stopped"]})
        assert_told(bulkops("list", job, cwd=tmp_path), 3, "nested deeper than 64 levels")
        ran = bulkops("run", job, "--yes", cwd=tmp_path)
        assert_told(ran, 3, "nested deeper than 64 levels")
        assert srv.calls["delete"] == 0


def test_a_plan_or_an_audit_line_nested_too_deep_is_refused_or_skipped(tmp_path: Path) -> None:
    with HostileServer() as srv:
        job = write_job(tmp_path, srv, ["cd-1"])
        plan = tmp_path / "plan.json"
        plan.write_bytes(b"[" * 100_000 + b"]" * 100_000)
        plan.chmod(0o600)
        assert_told(bulkops("run", job, "--plan", plan, "--yes", cwd=tmp_path), 2, "nested")
        assert sum(srv.calls.values()) == 0
    log = tmp_path / "deep.jsonl"
    good = b'{"event":"run_started","run_id":"r1","job":"e2e","dry_run":false}\n'
    log.write_bytes(
        good + b'{"event":' + b"[" * 1_000 + b"]" * 1_000 + b"}\n" + b"[" * 100_000 + b"\n"
    )
    result = bulkops("report", log, cwd=tmp_path)
    assert_told(result, 0, "deep.jsonl:2: JSON nested deeper than 64 levels; ignored")
    assert "deep.jsonl:3:" in result.stderr and "r1" in result.stdout


def test_the_same_page_again_and_again_stops_the_listing_at_once(tmp_path: Path) -> None:
    with HostileServer(list=lambda n: page(1, hasMore=True)) as srv:
        job = write_job(tmp_path, srv, select={"status": ["Stopped"]})
        result = bulkops("run", job, "--yes", cwd=tmp_path)
        assert_told(result, 3, "the page brings no new campaign id")
        assert srv.calls["list"] == 2 and srv.calls["delete"] == 0
        assert result.finished()["exit_code"] == 3


def test_more_pages_than_total_results_allows_stop_the_listing(tmp_path: Path) -> None:
    with HostileServer(list=lambda n: page(100 * n, hasMore=True, totalResults=150)) as srv:
        job = write_job(tmp_path, srv, select={"status": ["Stopped"]})
        result = bulkops("list", job, cwd=tmp_path)
        assert_told(result, 3, "(totalResults) fit in 2 pages")
        assert srv.calls["list"] == 2


def test_has_more_only_as_the_json_value_true(tmp_path: Path) -> None:
    with HostileServer(list=lambda n: page(100 * n, hasMore="false")) as srv:
        job = write_job(tmp_path, srv, select={"status": ["Stopped"]})
        result = bulkops("list", job, "--output", "ids", cwd=tmp_path)
        assert result.code == 0, result.stderr
        assert srv.calls["list"] == 1 and len(result.stdout.split()) == 100


def test_a_real_run_stops_listing_as_soon_as_it_is_over_max_deletes(tmp_path: Path) -> None:
    with HostileServer(list=lambda n: page(100 * n, hasMore=True)) as srv:
        job = write_job(tmp_path, srv, select={"status": ["Stopped"]}, run={"max_deletes": 150})
        result = bulkops("run", job, "--yes", cwd=tmp_path, timeout=30)
        assert_told(result, 2, "more than run.max_deletes (150)")
        assert srv.calls["list"] == 2 and srv.calls["delete"] == 0
