"""One run in-process, from lock to RunResult, against a real sandbox on loopback.

The observer is a list of what the run said and asked; what reached the
server comes from the sandbox's stats, what was recorded from the audit log.
"""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from job_factory import SECRET, make_job

from bulkops.engine.job_run import Declined, JobRun
from bulkops.model import COUNT_KEYS, Job, Outcome, RunResult, Selection
from bulkops.records.audit_log import AuditLock
from bulkops.sandbox import Sandbox


@dataclass
class Observer:
    """A RunObserver that remembers everything; ``answer`` is what confirm() says."""

    answer: bool = True
    calls: list[tuple[str, Any]] = field(default_factory=list)
    settled_ids: list[str] = field(default_factory=list)
    on_settled: Any = None  # called with each outcome, to act mid-run

    def info(self, event: str, message: str, **fields: Any) -> None:
        self.calls.append(("info", (event, message, fields)))

    def warn(self, event: str, message: str, **fields: Any) -> None:
        self.calls.append(("warn", (event, message, fields)))

    def confirm(self, count: int) -> bool:
        self.calls.append(("confirm", count))
        return self.answer

    def work_started(self, todo: int, counts: Mapping[str, int]) -> None:
        self.calls.append(("work_started", todo))

    def settled(self, outcome: Outcome) -> None:
        self.settled_ids.append(outcome.campaign_id)
        if self.on_settled is not None:
            self.on_settled(outcome)

    async def work_ended(self) -> None:
        self.calls.append(("work_ended", None))

    def said(self, kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """The info or warn messages by event."""
        return {c[1][0]: (c[1][1], c[1][2]) for c in self.calls if c[0] == kind}

    def asked(self) -> list[int]:
        return [c[1] for c in self.calls if c[0] == "confirm"]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=11) as sb:
        yield sb


def audit(job: Job) -> list[dict[str, Any]]:
    if not job.audit_log.exists():
        return []
    return [json.loads(line) for line in job.audit_log.read_text().splitlines()]


def stats(sandbox: Sandbox) -> dict[str, Any]:
    snapshot: dict[str, Any] = sandbox.state.snapshot()
    return snapshot


async def run(job: Job, observer: Observer | None = None, **kw: Any) -> RunResult:
    return await JobRun(job, observer or Observer(), **kw).execute()


async def test_a_real_run_deletes_each_id_once_and_its_result_says_so(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ids = sandbox.add_campaigns(count=3)
    job = make_job(tmp_path, host=sandbox.url, ids=(*ids, "cd-already-gone"))
    observer = Observer()
    result = await run(job, observer)

    assert sorted(stats(sandbox)["deleted_ids"]) == sorted(ids)
    assert stats(sandbox)["by_method"] == {"DELETE": 4}
    assert observer.asked() == [4]
    assert [c[0] for c in observer.calls] == ["confirm", "work_started", "work_ended"]
    assert sorted(observer.settled_ids) == sorted((*ids, "cd-already-gone"))
    assert (result.reason, result.exit_code, result.error) == ("completed", 0, None)
    assert (result.total, result.requests, result.retries, result.list_calls) == (4, 4, 0, 0)
    assert dict(result.counts) == {"deleted": 3, "not_found": 1, "failed": 0,
                                   "would_delete": 0, "skipped": 0, "pending": 0,
                                   "protected": 0}  # fmt: skip
    assert (result.job, result.dry_run, result.audit_log) == ("unit", False, str(job.audit_log))
    assert result.started_at <= result.finished_at and result.previews == ()

    records = audit(job)
    assert {r["run_id"] for r in records} == {result.run_id}
    assert records[0]["event"] == "run_started" and records[0]["total"] == 4
    assert records[-1]["counts"] == dict(result.counts) and records[-1]["exit_code"] == 0
    assert SECRET not in job.audit_log.read_text()


async def test_a_plan_replaces_the_jobs_ids_and_exclude_still_applies(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    a, b, c, own = sandbox.add_campaigns(count=4)
    job = make_job(tmp_path, host=sandbox.url, ids=(own,), exclude=frozenset({b}))
    result = await run(job, plan_ids=[a, b, c])
    assert sorted(stats(sandbox)["deleted_ids"]) == sorted([a, c])
    assert result.total == 2 and result.counts["deleted"] == 2
    assert own in sandbox.campaign_ids() and b in sandbox.campaign_ids()


async def test_resume_skips_what_earlier_runs_deleted_unless_fresh(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    a, b, c = sandbox.add_campaigns(count=3)
    await run(make_job(tmp_path, host=sandbox.url, ids=(a, b)))

    observer = Observer()
    again = await run(make_job(tmp_path, host=sandbox.url, ids=(a, b, c)), observer)
    assert stats(sandbox)["campaigns"][a]["delete_requests"] == 1
    assert stats(sandbox)["campaigns"][c]["delete_requests"] == 1
    assert observer.asked() == [1]  # only what is left to delete
    message, fields = observer.said("info")["resume"]
    assert fields == {"skipped": 2} and "--fresh" in message
    assert again.total == 3 and again.counts["skipped"] == 2 and again.counts["deleted"] == 1

    observer = Observer()
    fresh = await run(make_job(tmp_path, host=sandbox.url, ids=(a, b, c)), observer, fresh=True)
    assert all(stats(sandbox)["campaigns"][i]["delete_requests"] == 2 for i in (a, b, c))
    assert observer.asked() == [3] and "resume" not in observer.said("info")
    assert fresh.counts["skipped"] == 0 and fresh.counts["not_found"] == 3


async def test_a_real_run_over_max_deletes_is_refused_before_anything_is_deleted(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ids = sandbox.add_campaigns(count=3)
    job = make_job(tmp_path, host=sandbox.url, ids=tuple(ids), max_deletes=2)
    observer = Observer()
    result = await run(job, observer)
    assert result.exit_code == 2 and result.error is not None
    assert "3 campaigns would be deleted, more than run.max_deletes (2)" in result.error
    assert "DELETE" not in stats(sandbox)["by_method"]
    assert observer.asked() == []
    assert [r["event"] for r in audit(job)] == ["run_started", "run_finished"]


async def test_a_dry_run_over_max_deletes_warns_and_previews_them_all(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ids = sandbox.add_campaigns(
        [{"_id": f"cd-{i}", "name": f"Sale {i}", "status": "Completed",
          "createdAt": f"2024-01-0{i}T00:00:00Z"} for i in (1, 2, 3)]
    )  # fmt: skip
    job = make_job(tmp_path, host=sandbox.url, ids=tuple(ids), max_deletes=2, dry_run=True)
    observer = Observer()
    result = await run(job, observer)

    message, _ = observer.said("warn")["max_deletes"]
    assert message == "3 campaigns selected: a real run would be refused (run.max_deletes is 2)"
    assert observer.asked() == []  # a preview deletes nothing: nothing to confirm
    # one list page holds all three: cheaper than a GET each
    assert stats(sandbox)["by_method"] == {"POST": 1} and sandbox.campaign_ids() != []
    assert result.dry_run and result.counts["would_delete"] == 3 and result.exit_code == 0
    assert sorted(result.previews, key=lambda p: str(p["id"])) == [
        {"id": f"cd-{i}", "name": f"Sale {i}", "status": "Completed",
         "createdAt": f"2024-01-0{i}T00:00:00.000Z"} for i in (1, 2, 3)
    ]  # fmt: skip


async def test_declining_deletes_nothing_records_nothing_and_frees_the_log(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ids = sandbox.add_campaigns(count=2)
    job = make_job(tmp_path, host=sandbox.url, ids=tuple(ids))
    with pytest.raises(Declined, match="nothing was deleted"):
        await run(job, Observer(answer=False))
    assert stats(sandbox)["total_requests"] == 0 and audit(job) == []
    lock = AuditLock(job.audit_log)
    lock.acquire()  # the declined run let go of it
    lock.release()


async def test_a_selection_is_resolved_through_the_list_call_then_deleted(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    old, _, _ = sandbox.add_campaigns(
        [{"name": "Old A", "status": "Completed"}, {"name": "Old B", "status": "Draft"},
         {"name": "New", "status": "Completed"}]
    )  # fmt: skip
    chosen = Selection(status=("Completed",), name="old*")
    job = make_job(tmp_path, host=sandbox.url, select=chosen)
    observer = Observer()
    result = await run(job, observer)

    assert stats(sandbox)["deleted_ids"] == [old]
    assert stats(sandbox)["list_calls"][0]["filters"] == {"status": ["Completed"]}
    _, fields = observer.said("info")["selected"]
    assert fields == {"selected": 1, "list_calls": 1}
    assert (result.list_calls, result.total, result.requests) == (1, 1, 2)


async def test_a_selection_that_cannot_be_resolved_is_recorded_as_an_aborted_empty_run(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    sandbox.add_campaigns(count=2)
    sandbox.configure(auth_status=401)
    job = make_job(tmp_path, host=sandbox.url, select=Selection(status=("Completed",)))
    observer = Observer()
    result = await run(job, observer)

    assert stats(sandbox)["by_method"] == {"POST": 1}  # one list call, no DELETE
    assert observer.asked() == []
    assert (result.reason, result.exit_code, result.total) == ("aborted", 3, 0)
    assert result.error is not None
    assert result.error.startswith("could not resolve the selection: ")
    assert "401" in result.error and SECRET not in result.error
    started, finished = audit(job)
    assert (started["event"], started["total"]) == ("run_started", 0)
    assert (finished["event"], finished["reason"], finished["exit_code"]) == (
        "run_finished", "aborted", 3)  # fmt: skip
    assert finished["counts"] == dict.fromkeys(COUNT_KEYS, 0)


async def test_an_auth_failure_mid_run_aborts_and_the_counts_still_add_up(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ids = sandbox.add_campaigns(count=10)
    sandbox.configure(auth_status=403)
    job = make_job(tmp_path, host=sandbox.url, ids=tuple(ids), concurrency=2)
    result = await run(job)

    assert stats(sandbox)["deleted_ids"] == []
    assert (result.reason, result.exit_code) == ("aborted", 3)
    assert result.error is not None and "403" in result.error
    assert 1 <= result.counts["failed"] <= 2 and result.counts["pending"] >= 8
    assert sum(result.counts.values()) == result.total == 10
    assert audit(job)[-1]["counts"] == dict(result.counts)


async def test_a_signal_stops_dispatching_and_the_run_ends_interrupted(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ids = sandbox.add_campaigns(count=5)
    job = make_job(tmp_path, host=sandbox.url, ids=tuple(ids), concurrency=1)
    observer = Observer()
    job_run = JobRun(job, observer)
    observer.on_settled = lambda _: job_run.interrupt(signal.SIGTERM)
    result = await job_run.execute()

    assert len(stats(sandbox)["deleted_ids"]) == 1
    assert (result.reason, result.exit_code) == ("interrupted", 143)
    assert (result.counts["deleted"], result.counts["pending"]) == (1, 4)
    assert (audit(job)[-1]["reason"], audit(job)[-1]["exit_code"]) == ("interrupted", 143)
    assert observer.calls[-1] == ("work_ended", None)
