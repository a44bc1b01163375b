"""The restore log: its name, its lines, and what a restore reads back from both logs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bulkops.errors import JobError
from bulkops.model import RestoreOutcome, Target
from bulkops.records.history import iter_records
from bulkops.records.restore_log import RestoreLog, restore_log_path
from bulkops.records.restore_reader import Restored, read_deleted, read_restore_state
from tests.unit.records.test_audit import APP, HOST, started, write_log

TARGET = Target(HOST, APP, "acc")


def deleted(run_id: str, cid: str, **fields: Any) -> dict[str, Any]:
    return (
        {"event": "campaign", "run_id": run_id, "campaign_id": cid, "outcome": "deleted"}
        | {
            "campaign": {"_id": cid, "name": f"Name of {cid}"},
            "before": None,
            "ts": "2026-12-01T10:00:00.000Z",
        }
        | fields
    )


def line(event: str, run_id: str, **fields: Any) -> dict[str, Any]:
    return {"event": event, "run_id": run_id} | fields


def restore_started(run_id: str, *, dry_run: bool = False, host: str = HOST) -> dict[str, Any]:
    target = {"host": host, "app_id": APP, "account_id": "acc"}
    return line("restore_started", run_id, dry_run=dry_run, target=target)


@pytest.mark.parametrize(
    ("audit", "restore"),
    [
        ("audit/x.jsonl", "audit/x.restore.jsonl"),
        ("/var/log/bulkops/nightly.jsonl", "/var/log/bulkops/nightly.restore.jsonl"),
        ("audit/x.log", "audit/x.log.restore.jsonl"),
        ("a.jsonl.d/b.jsonl", "a.jsonl.d/b.restore.jsonl"),
    ],
)
def test_the_restore_log_sits_beside_the_audit_log(audit: str, restore: str) -> None:
    assert restore_log_path(Path(audit)) == Path(restore)


def test_the_writer_appends_every_kind_of_line_with_the_audit_log_s_common_fields(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit" / "job.jsonl"
    log = RestoreLog(audit, run_id="r-1", job="billing")
    log.started(dry_run=False, total=2, target=TARGET, runs=["run-a"])
    log.sent("cd-old", "Billing 1")
    body = {"name": "Billing 1", "dialingMode": "Progressive"}
    log.campaign(RestoreOutcome("cd-old", "cd-new", "restored", 200, "in progress", None, body))
    log.campaign(RestoreOutcome("cd-2", None, "failed", None, None, "no queue_name", None))
    log.finished(counts={"restored": 1, "failed": 1}, exit_code=1, reason="completed", error=None)
    log.close()
    text = (tmp_path / "audit" / "job.restore.jsonl").read_text()
    lines = [json.loads(raw) for raw in text.splitlines()]
    assert [r["event"] for r in lines] == [
        "restore_started", "sent", "campaign", "campaign", "restore_finished",
    ]  # fmt: skip
    assert all(r["run_id"] == "r-1" and r["job"] == "billing" for r in lines)
    assert all(r["ts"].endswith("Z") for r in lines)
    assert lines[0]["target"] == {"host": HOST, "app_id": APP, "account_id": "acc"}
    assert (lines[0]["runs"], lines[0]["total"], lines[0]["dry_run"]) == (["run-a"], 2, False)
    assert lines[1] | {"ts": 0} == line("sent", "r-1", job="billing", ts=0) | {
        "campaign_id": "cd-old",
        "name": "Billing 1",
    }
    assert {k: lines[2][k] for k in ("campaign_id", "new_id", "outcome", "http_status")} == {
        "campaign_id": "cd-old", "new_id": "cd-new", "outcome": "restored", "http_status": 200,
    }  # fmt: skip
    assert (lines[2]["message"], lines[2]["error"], lines[2]["body"]) == ("in progress", None, body)
    assert lines[4]["counts"] == {"restored": 1, "failed": 1} and lines[4]["exit_code"] == 1
    assert not audit.exists()  # the audit log itself is never written by a restore


def test_a_torn_restore_log_gets_a_fresh_line_and_a_link_is_refused(tmp_path: Path) -> None:
    audit = tmp_path / "a.jsonl"
    path = restore_log_path(audit)
    path.write_text('{"event": "sent", "run_id": "r-0", "campaign_id": "cd-1"')
    state = read_restore_state(path, HOST, APP)
    assert state.torn_tail
    log = RestoreLog(audit, run_id="r-1", job="j", torn_tail=True)
    log.sent("cd-2", "Two")
    log.close()
    assert [type(item).__name__ for _, item in iter_records(path)] == ["BadLine", "dict"]
    other = tmp_path / "b.jsonl"
    os.symlink(path, restore_log_path(other))
    with pytest.raises(JobError, match="restore log .*b.restore.jsonl"):
        RestoreLog(other, run_id="r-2", job="j")


def audit_of_three_runs(path: Path) -> None:
    write_log(
        path,
        [
            started("run-1"),
            deleted("run-1", "cd-a", before={"_id": "cd-a", "connection": "Queue A"}),
            deleted("run-1", "cd-b"),
            started("dry-1", dry_run=True),
            line("campaign", "dry-1", campaign_id="cd-x", outcome="would_delete"),
            started("run-2"),
            deleted("run-2", "cd-c"),
            line("campaign", "run-2", campaign_id="cd-d", outcome="failed"),
            line("campaign", "run-2", campaign_id="cd-e", outcome="not_found"),
            started("elsewhere", host="https://other.example"),
            deleted("elsewhere", "cd-f"),
            started("run-3"),
            line("campaign", "run-3", campaign_id="cd-d", outcome="failed"),
            started("run-4"),
            deleted("run-4", "cd-a", campaign={"_id": "cd-a", "name": "Again"}),
        ],
        tail='{"event": "campai',
    )


def test_by_default_the_latest_real_run_that_deleted_any(tmp_path: Path) -> None:
    audit_of_three_runs(tmp_path / "a.jsonl")
    found = read_deleted(tmp_path / "a.jsonl", HOST, APP)
    assert list(found.campaigns) == ["cd-a"] and found.runs == ["run-4"]
    assert found.campaigns["cd-a"].campaign == {"_id": "cd-a", "name": "Again"}
    assert found.real_runs == ["run-1", "run-2", "run-3", "run-4"]  # no dry run, no other target
    assert [p.torn for p in found.problems] == [True]


def test_a_named_run_or_named_ids_with_their_snapshots(tmp_path: Path) -> None:
    audit_of_three_runs(tmp_path / "a.jsonl")
    run_1 = read_deleted(tmp_path / "a.jsonl", HOST, APP, run_id="run-1")
    assert list(run_1.campaigns) == ["cd-a", "cd-b"] and run_1.runs == ["run-1"]
    a = run_1.campaigns["cd-a"]
    assert (a.run_id, a.ts, a.before) == ("run-1", "2026-12-01T10:00:00.000Z", {
        "_id": "cd-a", "connection": "Queue A",
    })  # fmt: skip
    assert a.campaign == {"_id": "cd-a", "name": "Name of cd-a"}
    ids = read_deleted(tmp_path / "a.jsonl", HOST, APP, ids=["cd-c", "cd-a", "cd-d", "cd-f", "x"])
    assert {cid: c.run_id for cid, c in ids.campaigns.items()} == {"cd-c": "run-2", "cd-a": "run-4"}
    both = read_deleted(tmp_path / "a.jsonl", HOST, APP, run_id="run-1", ids=["cd-b", "cd-c"])
    assert list(both.campaigns) == ["cd-b"]
    for unknown in ("dry-1", "elsewhere", "nope", "run-3"):
        assert read_deleted(tmp_path / "a.jsonl", HOST, APP, run_id=unknown).campaigns == {}
    assert read_deleted(tmp_path / "missing.jsonl", HOST, APP).campaigns == {}


def test_an_older_run_s_lines_after_a_newer_one_do_not_replace_it(tmp_path: Path) -> None:
    write_log(
        tmp_path / "a.jsonl",
        [started("run-1"), started("run-2"), deleted("run-2", "cd-2"), deleted("run-1", "cd-1")],
    )
    assert list(read_deleted(tmp_path / "a.jsonl", HOST, APP).campaigns) == ["cd-2"]


def test_restore_state_knows_what_came_back_and_what_was_sent_unanswered(tmp_path: Path) -> None:
    path = tmp_path / "a.restore.jsonl"
    write_log(
        path,
        [
            restore_started("r-1"),
            line("sent", "r-1", campaign_id="cd-a", name="A"),
            line("campaign", "r-1", campaign_id="cd-a", outcome="restored", new_id="cd-a2"),
            line("campaign", "r-1", campaign_id="cd-b", outcome="exists", new_id="cd-b2"),
            line("sent", "r-1", campaign_id="cd-c", name="C"),
            line("campaign", "r-1", campaign_id="cd-c", outcome="failed", new_id=None),
            line("sent", "r-1", campaign_id="cd-d", name="D"),  # killed here
            line("sent", "r-1", campaign_id="cd-e", name="E"),
            restore_started("dry", dry_run=True),
            line("campaign", "dry", campaign_id="cd-d", outcome="would_restore"),
            line("campaign", "dry", campaign_id="cd-c", outcome="restored", new_id="no"),
            restore_started("far", host="https://other.example"),
            line("campaign", "far", campaign_id="cd-e", outcome="restored", new_id="cd-x"),
            line("sent", "far", campaign_id="cd-g", name="G"),
            restore_started("r-2"),
            line("campaign", "r-2", campaign_id="cd-e", outcome="exists", new_id="cd-e2"),
        ],
    )
    state = read_restore_state(path, HOST, APP)
    assert state.done == {
        "cd-a": Restored("restored", "cd-a2"),
        "cd-b": Restored("exists", "cd-b2"),
        "cd-e": Restored("exists", "cd-e2"),
    }
    assert state.in_flight == {"cd-d": "D"}
    assert not state.torn_tail and state.problems == []
    assert read_restore_state(tmp_path / "none.jsonl", HOST, APP).done == {}
