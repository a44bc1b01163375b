"""`bulkops restore` end to end: campaigns a real run deleted come back once each, with
the settings their snapshots and the job's restore: section give."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkops.sandbox import SandboxThread
from bulkops.sandbox.create import change_contact_lists
from bulkops.utc import parse_utc
from tests.e2e.harness import (
    FAST_RUN,
    bulkops,
    count_lines,
    read_audit,
    start_bulkops,
    wait_until,
    write_job,
)
from tests.e2e.test_restore_parts import RESTORE, assert_restored_fields


def restore_lines(tmp_path: Path) -> list[dict[str, Any]]:
    return read_audit(tmp_path / "audit.restore.jsonl")


def finished(tmp_path: Path) -> dict[str, Any]:
    return [line for line in restore_lines(tmp_path) if line["event"] == "restore_finished"][-1]


def full(sandbox: SandboxThread, ids: list[str]) -> dict[str, dict[str, Any]]:
    store = sandbox.sandbox.state.store
    return {cid: sandbox.call(lambda c=cid: store.get(c).full()) for cid in ids}


def deleted_job(
    tmp_path: Path, sandbox: SandboxThread, ids: list[str], restore: Any = RESTORE, **fields: Any
) -> Path:
    job = write_job(tmp_path, sandbox, ids, restore=restore, **fields)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(ids)
    return job


def test_300_deleted_campaigns_come_back_once_each_field_by_field(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=300)
    before = full(sandbox, ids)
    assert set(Counter(c["dialingMode"] for c in before.values())) == {
        "Agentless", "Progressive", "Preview",
    }  # fmt: skip
    assert len({c["name"] for c in before.values()}) == 300
    job = deleted_job(tmp_path, sandbox, ids)

    preview = bulkops("restore", job, "--dry-run", cwd=tmp_path)
    assert preview.code == 0, preview.stderr
    assert not sandbox.stats_snapshot()["created"]  # a dry run sends nothing
    assert len(preview.stdout.splitlines()) == 300
    assert finished(tmp_path)["counts"]["would_restore"] == 300

    real = bulkops("restore", job, "--yes", cwd=tmp_path)
    assert real.code == 0, real.stderr
    created = sandbox.stats_snapshot()["created"]
    assert Counter(c["name"] for c in created) == Counter(c["name"] for c in before.values())
    by_name = {c["name"]: c["body"] for c in created}
    for old in before.values():
        assert_restored_fields(by_name[old["name"]], old)
    lines = [line for line in restore_lines(tmp_path) if line["event"] == "campaign"]
    restored = {line["campaign_id"]: line for line in lines if line["outcome"] == "restored"}
    assert sorted(restored) == sorted(ids)
    assert sorted(line["new_id"] for line in restored.values()) == sorted(c["id"] for c in created)
    assert finished(tmp_path)["counts"]["restored"] == 300

    again = bulkops("restore", job, "--yes", cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert len(sandbox.stats_snapshot()["created"]) == 300  # nothing created again
    assert finished(tmp_path)["counts"]["skipped"] == 300


def test_a_missing_flow_fails_unsent_and_a_missing_list_fails_with_the_servers_words(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.add_campaigns(
        [
            {"_id": "cd-flow", "name": "Flowless", "dialingMode": "Agentless",
             "contactLists": ["VIP Customers"]},
            {"_id": "cd-list", "name": "Listless", "dialingMode": "Progressive",
             "contactLists": ["Spring Promo"]},
        ]
    )  # fmt: skip
    restore = {"queue_name": "Default Queue"}  # no experience flow for Agentless campaigns
    job = deleted_job(tmp_path, sandbox, ["cd-flow", "cd-list"], restore=restore)
    store = sandbox.sandbox.state.store
    sandbox.call(lambda: change_contact_lists(store, {"remove": ["Spring Promo"]}))
    posts_before = sandbox.stats_snapshot()["by_method"].get("POST", 0)

    result = bulkops("restore", job, "--yes", cwd=tmp_path)
    assert result.code == 1, result.stderr
    lines = {
        line["campaign_id"]: line for line in restore_lines(tmp_path) if line["event"] == "campaign"
    }
    assert (
        lines["cd-flow"]["outcome"] == "failed"
        and "experienceFlowName" in lines["cd-flow"]["error"]
    )
    assert lines["cd-flow"]["body"] is None
    assert lines["cd-list"]["outcome"] == "failed" and lines["cd-list"]["http_status"] == 400
    assert "Spring Promo" in lines["cd-list"]["message"]
    sent = [line["campaign_id"] for line in restore_lines(tmp_path) if line["event"] == "sent"]
    assert sent == ["cd-list"]  # no request for the body that lacks a field
    assert not sandbox.stats_snapshot()["created"]
    assert sandbox.stats_snapshot()["by_method"].get("POST", 0) >= posts_before + 1


@pytest.fixture
def slow_sandbox() -> Iterator[SandboxThread]:
    """Every answer takes a moment: a kill -9 lands while a Create is on its way."""
    with SandboxThread(campaigns=0, seed=7, latency=0.3) as sb:
        yield sb


@pytest.mark.long
def test_a_restore_killed_after_a_sent_line_creates_nothing_twice(
    tmp_path: Path, slow_sandbox: SandboxThread
) -> None:
    sandbox = slow_sandbox
    ids = sandbox.add_campaigns(count=12)
    job = deleted_job(tmp_path, sandbox, ids, run={"concurrency": 2})
    log = tmp_path / "audit.restore.jsonl"
    process = start_bulkops("restore", job, "--yes", cwd=tmp_path)
    wait_until("a sent line", lambda: count_lines(log, "sent") >= 1, process)
    process.kill()  # SIGKILL: no line more is written
    process.communicate()
    for _ in range(3):
        result = bulkops("restore", job, "--yes", cwd=tmp_path)
        if result.code == 0:
            break
    assert result.code == 0, result.stderr
    names = Counter(c["name"] for c in sandbox.stats_snapshot()["created"])
    assert sorted(names) == sorted(c["name"] for c in full_names(tmp_path))
    assert set(names.values()) == {1}, names  # not one campaign created twice
    outcomes = Counter(
        line["outcome"] for line in restore_lines(tmp_path) if line["event"] == "campaign"
    )
    assert outcomes["restored"] + outcomes["exists"] == 12


def full_names(tmp_path: Path) -> list[dict[str, Any]]:
    """The deleted campaigns as the audit log's delete answers kept them."""
    return [
        line["campaign"] for line in read_audit(tmp_path / "audit.jsonl")
        if line["event"] == "campaign" and line["outcome"] == "deleted"
    ]  # fmt: skip


def test_dry_run_prints_each_body(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=3)
    job = deleted_job(tmp_path, sandbox, ids)
    result = bulkops("restore", job, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.stderr
    shown = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(s["campaign_id"] for s in shown) == sorted(ids)
    assert all(s["body"]["name"] and s["body"]["contactLists"] for s in shown)


def test_creates_whose_answers_were_never_recorded_are_found_by_name_not_sent_again(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=20)
    job = deleted_job(tmp_path, sandbox, ids)
    assert bulkops("restore", job, "--yes", cwd=tmp_path).code == 0
    log = tmp_path / "audit.restore.jsonl"
    # as if killed between each Create and its record: the sent lines stay, nothing after
    kept = [line for line in log.read_text().splitlines() if '"event":"campaign"' not in line]
    log.write_text("\n".join(line for line in kept if "restore_finished" not in line) + "\n")
    created = len(sandbox.stats_snapshot()["created"])

    again = bulkops("restore", job, "--yes", cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert "looked up by name" in again.stderr
    assert len(sandbox.stats_snapshot()["created"]) == created == 20
    lines = [line for line in restore_lines(tmp_path) if line["event"] == "campaign"]
    assert Counter(line["outcome"] for line in lines) == {"exists": 20}
    assert all(line["new_id"] for line in lines)


def test_report_reads_the_restore_log_too(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=3)
    job = deleted_job(tmp_path, sandbox, ids)
    assert bulkops("restore", job, "--yes", cwd=tmp_path).code == 0
    restore_id = finished(tmp_path)["run_id"]
    table = bulkops("report", tmp_path / "audit.jsonl", cwd=tmp_path)
    assert table.code == 0, table.stderr
    assert f"restore {restore_id} (real" in table.stdout and "restored 3" in table.stdout
    as_json = bulkops("report", tmp_path / "audit.jsonl", "--format", "json", cwd=tmp_path)
    restores = json.loads(as_json.stdout)["restores"]
    assert [(r["run_id"], r["counts"]["restored"], r["sent"]) for r in restores] == [
        (restore_id, 3, 3)
    ]


def test_a_create_answered_503_is_sent_again_after_the_retry_wait_not_at_once(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=1)
    backoff = {"backoff_initial": 1.0, "backoff_max": 1.0}  # a wait of exactly 1 s
    job = deleted_job(tmp_path, sandbox, ids, run={**FAST_RUN, **backoff})
    sandbox.configure(scripted={"create": [503]})  # the first Create only
    result = bulkops("restore", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert len(sandbox.stats_snapshot()["created"]) == 1
    sent = [parse_utc(line["ts"]) for line in restore_lines(tmp_path) if line["event"] == "sent"]
    assert len(sent) == 2
    assert sent[0] is not None and sent[1] is not None
    assert (sent[1] - sent[0]).total_seconds() >= 1.0  # the policy's wait, not at once
    assert finished(tmp_path)["counts"]["restored"] == 1
