"""One run of a job, from lock to ``run_finished``.

lock the audit log → read what earlier runs settled → resolve the campaigns
(select) → check max_deletes → confirm → the worker pool → an immutable
``RunResult``. Everything recorded goes through ``RunRecorder``, which
writes ``run_finished`` whatever happens once ``run_started`` is written.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bulkops.engine.ending import RunEnding
from bulkops.engine.flows import flow_of
from bulkops.engine.machinery import Machinery, history_of, machinery
from bulkops.engine.observer import RunObserver
from bulkops.engine.pool import WorkerPool
from bulkops.engine.prepare import Prepared
from bulkops.engine.recorder import RunRecorder
from bulkops.engine.run_campaigns import RunCampaigns, run_campaigns
from bulkops.engine.watch import StatusWatch
from bulkops.errors import (
    AbortError,
    ApiError,
    AuditWriteError,
    Interrupted,
    JobError,
    RetryableError,
    field_to_check,
)
from bulkops.ids import shown
from bulkops.job import max_deletes_refusal
from bulkops.model import Answer, Job, Outcome, RunResult
from bulkops.ratelimit.limiter import SlotLimiter
from bulkops.records.audit_log import AuditLock, AuditWriter
from bulkops.records.history import History
from bulkops.text import plural
from bulkops.utc import utc_now

Publish = Callable[[RunResult], "str | None"]  # writes the monitoring files; what failed, or None


class Declined(JobError):
    """The person at the terminal did not confirm; nothing was deleted."""


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


@dataclass
class _Record:
    """What the run learnt of its campaigns, and what its result says beyond the
    recorder's tally."""

    campaigns: RunCampaigns  # none until they are chosen; exclude's from the job till then
    began: float = field(default_factory=time.monotonic)
    started_at: str = ""
    list_calls: int = 0
    previews: list[dict[str, object]] = field(default_factory=list)  # would_delete rows
    protected: list[dict[str, object]] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    seen: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # for the lines' ``before``
    stopped: set[str] = field(default_factory=set)  # campaigns the Stop call stopped
    watch: StatusWatch | None = None  # a real run's statuses, kept fresh


class JobRun:
    """One run of ``job``: ``await JobRun(job, observer).execute()`` returns its result.

    JobError and LockedError escape ``execute`` with nothing deleted and nothing
    logged; ``refused()`` then describes the run for monitoring files. ``publish``
    writes the monitoring files once the exit code is known, before ``run_finished``.
    """

    def __init__(
        self,
        job: Job,
        observer: RunObserver,
        *,
        fresh: bool = False,
        plan_ids: Sequence[str] | None = None,
        publish: Publish = lambda result: None,
    ) -> None:
        self.job = job
        self.run_id = new_run_id()
        self.plan_ids = plan_ids  # a reviewed plan replaces the job's own selection
        self._observer = observer
        self._fresh = fresh
        self._publish = publish
        self._ending = RunEnding()
        self._machine: Machinery | None = None
        self._recorder: RunRecorder | None = None
        self._record = _Record(campaigns=RunCampaigns((), job.removed_by_exclude))

    def interrupt(self, signum: int) -> None:
        """A signal: stop dispatching; requests in flight settle and are recorded.

        Before the run has started (at the prompt, while the selection is listed)
        it raises Interrupted: nothing was deleted, and there is nothing to settle."""
        if self._recorder is None or not self._recorder.started:
            raise Interrupted(signum)
        self._ending.interrupt(signum)

    def refused(self, reason: str, error: str, exit_code: int) -> RunResult:
        """This run as monitoring sees it when it stopped before ``run_started``."""
        now = utc_now()
        return RunResult(
            self.run_id, self.job.name, not flow_of(self.job).deletes, str(self.job.audit_log),
            started_at=self._record.started_at or now, finished_at=now, exit_code=exit_code,
            reason=reason, error=error, list_calls=self._record.list_calls,
        )  # fmt: skip

    async def execute(self) -> RunResult:
        lock = AuditLock(self.job.audit_log)
        lock.acquire()
        writer: AuditWriter | None = None
        try:
            history = self._read_history()
            writer = AuditWriter(self.job.audit_log, torn_tail=history.torn_tail)
            self._recorder = RunRecorder(writer, self.job, self.run_id, ending=self._ending)
            async with machinery(
                self.job, self._ending, history, self._observer.warn, on_outcome=self._settled,
                before_send=self._recorder.sent, on_rate_limited=self._refused_for_rate,
            ) as self._machine:  # fmt: skip
                try:
                    return await self._run(self._machine.pool, history)
                finally:
                    self._say_refusals(self._machine.pool, self._machine.limiter)
        finally:
            if writer is not None and not (self._recorder and self._recorder.started):
                with contextlib.suppress(AuditWriteError):
                    writer.close()  # the run never started: nothing to finish
            lock.release()

    async def _run(self, pool: WorkerPool, history: History) -> RunResult:
        self._record.started_at = utc_now()
        done = set() if self._fresh else history.done
        try:
            self._record.campaigns = await run_campaigns(
                self.job, self.plan_ids, done=len(done), fetch_page=self._fetch_page,
                observer=self._observer,
            )  # fmt: skip
        except ApiError as exc:
            with self._recording(history, total=0, skipped=0):
                self._abort(f"could not resolve the selection: {exc.explanation}", exc)
            return self._result()
        ids = self._record.campaigns.ids
        todo = [i for i in ids if i not in done]
        try:
            work = await self._prepare(pool, todo)
        except ApiError as exc:
            with self._recording(history, total=len(ids), skipped=len(ids) - len(todo)):
                self._abort(f"could not {flow_of(self.job).learning}: {exc.explanation}", exc)
            return self._result()
        self._record.seen = work.seen
        flow = flow_of(self.job)
        refusal = self._refusal(len(work.send)) if flow.deletes else None
        confirm = refusal is None and flow.deletes and work.send
        if confirm and not self._observer.confirm(len(work.send)):
            raise Declined("not confirmed: nothing was deleted")
        with self._recording(history, total=len(ids), skipped=len(ids) - len(todo)):
            if skipped := len(ids) - len(todo):
                self._observer.info(
                    "resume", f"skipping {plural(skipped, 'campaign')} already done in earlier "
                    f"runs recorded in {self.job.audit_log} (--fresh ignores them)",
                    skipped=skipped,
                )  # fmt: skip
            for outcome in work.settled:
                self._settled(outcome)
            if refusal is not None:
                self._ending.refuse(refusal)
            else:
                await self._send(pool, work)
        if not flow.deletes:
            self._warn_over_max_deletes()
        return self._result()

    async def _send(self, pool: WorkerPool, work: Prepared) -> None:
        assert self._recorder is not None and self._machine is not None
        self._observer.work_started(len(work.send), self._recorder.counts)
        try:
            self._record.watch = work.watch
            action = flow_of(self.job).action(
                self._machine.client, self.job, work.watch, self._record.stopped.add
            )
            await pool.settle_all(work.send, action)
        finally:
            await self._observer.work_ended()

    def _abort(self, error: str, exc: ApiError) -> None:
        self._ending.abort(error, field=field_to_check(exc))

    async def _prepare(self, pool: WorkerPool, todo: list[str]) -> Prepared:
        """What the run knows without a request per campaign, at the fewest requests."""
        assert self._machine is not None
        client = self._machine.client
        work = await flow_of(self.job).prepare(
            self.job, todo, self._record.campaigns.listed, fetch_page=self._fetch_page,
            get_one=lambda campaign_id: pool.request(lambda: client.get(campaign_id)),
            say=lambda text: self._observer.info("requests", text),
            listed_at=self._record.campaigns.listed_at,
        )  # fmt: skip
        if kept := sum(1 for o in work.settled if o.outcome == "protected"):
            statuses = ", ".join(self.job.run.protect_status)
            self._observer.info(
                "protected", f"{plural(kept, 'campaign')} {_are(kept)} protected (status "
                f"{statuses}: run.protect_status): they are kept, not deleted", protected=kept,
            )  # fmt: skip
        if count := len(work.stop_first):
            verb, their = (flow_of(self.job).verb, "their") if count > 1 else (None, "its")
            self._observer.info(
                "stop_first", f"{plural(count, 'Active campaign')} "
                f"{verb or _singular(flow_of(self.job).verb)} stopped "
                f"(Kore.ai's Stop call) before {their} delete (run.stop_before_delete)",
            )  # fmt: skip
        return work

    async def _fetch_page(self, body: dict[str, object]) -> Answer:
        assert self._machine is not None
        self._record.list_calls += 1
        client = self._machine.client
        return await _list_call(self._machine.pool, lambda: client.list_page(body))

    def _recording(
        self, history: History, *, total: int, skipped: int
    ) -> AbstractContextManager[None]:
        if history.torn_tail:
            self._observer.warn(
                "audit_torn_line", f"{self.job.audit_log}: the last line was cut off by a crash; "
                "it stays as it is and this run starts on a new line",
            )  # fmt: skip
        assert self._recorder is not None
        assert self._machine is not None
        stats = self._machine.pool.stats
        return self._recorder.recording(
            total, skipped, began=self._record.began, publish=self._publish_result,
            requests=lambda: stats.requests,
        )  # fmt: skip

    def _publish_result(self) -> None:
        """The monitoring files, with the exit code the recorder has just fixed; one that
        cannot be written makes the record incomplete, which the ending is told."""
        if (failed := self._publish(self._result())) is not None:
            self._ending.unwritten(failed)

    def _refusal(self, count: int) -> str | None:
        """Why this real run, which would delete ``count`` campaigns (not those resume skips,
        protected or known gone), must not start; None when ``run.max_deletes`` allows it."""
        return max_deletes_refusal(self.job, count, at_least=self._record.campaigns.listing_stopped)

    def _warn_over_max_deletes(self) -> None:
        """A preview counts as the real run would: the campaigns it would delete."""
        assert self._recorder is not None
        count, cap = self._recorder.counts["would_delete"], self.job.run.max_deletes
        if count > cap or self._record.campaigns.listing_stopped:
            self._observer.warn(
                "max_deletes", f"{plural(count, 'campaign')} selected: a real run would be refused "
                f"(run.max_deletes is {cap})",
            )  # fmt: skip

    def _read_history(self) -> History:
        history = history_of(self.job)
        for bad in history.problems[:5]:
            self._observer.warn(
                "audit_bad_line", f"{self.job.audit_log}:{bad.lineno}: {bad.problem}; ignored",
                line=bad.lineno,
            )  # fmt: skip
        if len(history.problems) > 5:
            self._observer.warn(
                "audit_bad_line", f"… and {len(history.problems) - 5} more bad lines"
            )
        if history.in_flight and not self._fresh:
            self._observer.warn(
                "in_flight_at_crash", f"{plural(len(history.in_flight), 'campaign')} "
                f"{'were' if len(history.in_flight) > 1 else 'was'} sent a DELETE by "
                "an earlier run that stopped before recording the answer (killed?), e.g. "
                f"{shown(history.in_flight[0])}: they are tried again, and not_found for them "
                "most likely means that run deleted them", campaigns=len(history.in_flight),
            )  # fmt: skip
        return history

    def _refused_for_rate(self, exc: RetryableError) -> None:
        assert self._machine is not None
        if self._machine.pool.stats.rate_limited == 1:
            self._observer.warn(
                "rate_limited", f"the server refused a request for rate ({exc.explanation}): "
                "slowing down; another client may be using this account's budget",
            )  # fmt: skip

    def _say_refusals(self, pool: WorkerPool, limiter: SlotLimiter) -> None:
        """Blames another client only when the server once took the job's full count."""
        if refused := pool.stats.rate_limited:
            why = []
            for spec, took, took_all in limiter.refusals() if self.job.run.rates else ():
                window = f"{spec.window:g}s"
                why.append(
                    f"the server took only {took} of the {spec.count} the job allows in "
                    f"{window}: another client shares the budget" if took_all else
                    f"run.rate {spec} is above what the server took ({took} in {window}): "
                    "lower run.rate"
                )  # fmt: skip
            self._observer.warn(
                "rate_limited", f"the server refused {refused} request{'s' * (refused > 1)} "
                "for rate in this run "
                f"(limit {', '.join(map(str, self.job.run.rates)) or 'none'})"
                + "".join(f"; {w}" for w in why), count=refused,
            )  # fmt: skip

    def _settled(self, outcome: Outcome) -> None:
        assert self._recorder is not None
        outcome = flow_of(self.job).outcome(outcome, self.job)
        if self._record.watch is not None:
            self._record.watch.settled(outcome.campaign_id)
        stopped = outcome.campaign_id in self._record.stopped
        with contextlib.suppress(AuditWriteError):  # the recorder told the ending: run stops
            self._recorder.campaign(outcome, before=self._seen_before(outcome), stopped=stopped)
        rows = {"would_delete": self._record.previews, "protected": self._record.protected}
        if (kept := rows.get(outcome.outcome)) is not None:
            data = outcome.campaign or {}
            kept.append(
                {
                    "id": outcome.campaign_id,
                    "name": data.get("name"),
                    "status": data.get("status"),
                    "createdAt": data.get("createdAt"),
                }
            )
        elif outcome.outcome == "not_found":
            self._record.not_found.append(outcome.campaign_id)
        self._observer.settled(outcome)

    def _seen_before(self, outcome: Outcome) -> dict[str, Any] | None:
        """What bulkops saw of the campaign before its outcome (a preview's GET answer is
        what it saw): the campaign line's ``before``."""
        fresher = self._record.watch.last_seen(outcome.campaign_id) if self._record.watch else None
        before = fresher or self._record.seen.get(outcome.campaign_id)
        if before is None and not flow_of(self.job).deletes:
            before = outcome.campaign
        return before

    def _result(self) -> RunResult:
        rec, record, end = self._recorder, self._record, self._ending.end()
        assert rec is not None and self._machine is not None
        stats = self._machine.pool.stats
        return RunResult(
            run_id=self.run_id,
            job=self.job.name,
            dry_run=not flow_of(self.job).deletes,
            audit_log=str(self.job.audit_log),
            total=rec.total,
            counts=dict(rec.counts),
            started_at=record.started_at,
            finished_at=utc_now(),
            duration_s=rec.duration_s,
            exit_code=rec.exit_code,
            reason=end.reason,
            requests=stats.requests,
            retries=stats.retries,
            rate_limited=stats.rate_limited,
            list_calls=record.list_calls,
            error=end.error,
            error_field=end.field,
            error_campaign=end.campaign_id,
            previews=tuple(record.previews),
            protected=tuple(record.protected),
            not_found=tuple(record.not_found),
            excluded=record.campaigns.excluded,
        )


async def _list_call(pool: WorkerPool, call: Callable[[], Awaitable[Answer]]) -> Answer:
    try:
        return await pool.request(call)
    except AbortError:
        raise
    except ApiError as exc:
        raise ApiError(f"list call failed: {exc.explanation}", status=exc.status) from exc


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


def _singular(verb: str) -> str:
    """ "are" / "would be" (a flow's verb) for one campaign."""
    return "is" if verb == "are" else verb
