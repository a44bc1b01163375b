"""One restore of a job: the campaigns its audit log recorded ``deleted``, created again.

lock the audit log → read the deleted campaigns and what earlier restores settled →
a Create body for each (``records.create_body``) → confirm → list the account's
campaign names once → one Create each → ``restore_finished``.

Never twice: a campaign whose name the listing holds is ``exists`` and nothing is
sent for it (this also covers a Create of an earlier, killed restore whose answer
was never recorded); a ``sent`` line is written right before each Create; a Create
whose answer was lost (timeout, reset, 5xx) is looked up by name again before it
is ever sent again. The tries follow the pool's retry policy, as a DELETE's do:
Retry-After, a refusal's window or the backoff between them.
Every request goes through the run's machinery: the same client, rate budget and
``RunEnding`` as ``bulkops run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from bulkops.engine.ending import RunEnding
from bulkops.engine.flows import for_real
from bulkops.engine.job_run import new_run_id
from bulkops.engine.machinery import Machinery, history_of, machinery
from bulkops.engine.retry import gave_up
from bulkops.engine.selection import resolve
from bulkops.errors import (
    AbortError,
    ApiError,
    AuditWriteError,
    Interrupted,
    JobError,
    NameTaken,
    RateLimited,
    RetryableError,
)
from bulkops.model import RESTORE_COUNT_KEYS, Answer, Created, Job, RestoreOutcome, Selection
from bulkops.records.audit_log import AuditLock
from bulkops.records.create_body import build_create_body, merged_snapshot
from bulkops.records.restore_log import RestoreLog, restore_log_path
from bulkops.records.restore_reader import DeletedSet, read_deleted, read_restore_state
from bulkops.text import plural
from bulkops.utc import parse_utc


class RestoreObserver(Protocol):
    def info(self, event: str, message: str, **fields: Any) -> None: ...

    def warn(self, event: str, message: str, **fields: Any) -> None: ...

    def confirm(self, count: int) -> bool:
        """May ``count`` campaigns really be created? Asked once, before the first Create."""

    def work_started(self, todo: int, counts: Mapping[str, int]) -> None: ...

    def settled(self, outcome: RestoreOutcome) -> None: ...

    async def work_ended(self) -> None: ...


class NotConfirmed(JobError):
    """The person at the terminal did not confirm; nothing was created."""


@dataclass
class RestoreResult:
    run_id: str
    log: str
    dry_run: bool
    counts: dict[str, int]
    exit_code: int = 0
    reason: str = "completed"
    error: str | None = None
    requests: int = 0
    outcomes: list[RestoreOutcome] = field(default_factory=list)


@dataclass(frozen=True)
class _Item:
    campaign_id: str  # the old id
    body: dict[str, Any] | None
    error: str | None  # why there is no body


@dataclass(frozen=True)
class _Wanted:
    """Which deleted campaigns to restore: of one run (None: the latest real run that
    deleted any), among the given old ids (None: all of them)."""

    run_id: str | None
    ids: Sequence[str] | None


@dataclass
class _Names:
    """The account's campaign names, as listed or created: name -> id. One Create of a
    name at a time (``locks``), so two old campaigns of one name never both go out.
    ``lost_since``: when an earlier restore sent its latest Create, if one of its Creates
    has no recorded answer (its name may exist by now, under an id not yet listed)."""

    ids: dict[str, str | None] = field(default_factory=dict)
    lost_since: float | None = None
    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))


class RestoreRun:
    """``await RestoreRun(job, observer).execute()``: JobError and LockedError escape with
    nothing created and nothing logged."""

    def __init__(
        self,
        job: Job,
        observer: RestoreObserver,
        *,
        run_id: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> None:
        self.job = job
        self.run_id = new_run_id()
        self._wanted = _Wanted(run_id, ids)
        self._observer = observer
        self._ending = RunEnding()
        self._started = False
        self._log: RestoreLog | None = None
        self._machine: Machinery | None = None
        self._names = _Names()
        self._result = RestoreResult(
            self.run_id, str(restore_log_path(job.audit_log)), not for_real(job),
            dict.fromkeys(RESTORE_COUNT_KEYS, 0),
        )  # fmt: skip

    def interrupt(self, signum: int) -> None:
        """A signal: before the restore started nothing was sent (Interrupted); after, no
        more Creates are sent, those in flight settle and are recorded."""
        if not self._started:
            raise Interrupted(signum)
        self._ending.interrupt(signum)

    async def execute(self) -> RestoreResult:
        lock = AuditLock(self.job.audit_log)
        lock.acquire()
        try:
            deleted = self._deleted()
            state = read_restore_state(
                restore_log_path(self.job.audit_log), self.job.target.host, self.job.target.app_id
            )
            done = [i for i in deleted.campaigns if i in state.done]
            items = [self._item(i, deleted) for i in deleted.campaigns if i not in state.done]
            self._say_plan(deleted, len(done), items, len(state.in_flight))
            sendable = [item for item in items if item.body is not None]
            real = for_real(self.job)
            if real and sendable and not self._observer.confirm(len(sendable)):
                raise NotConfirmed("not confirmed: nothing was created")
            self._log = RestoreLog(
                self.job.audit_log, run_id=self.run_id, job=self.job.name,
                torn_tail=state.torn_tail,
            )  # fmt: skip
            self._result.counts["skipped"] = len(done)
            if state.in_flight:
                self._names.lost_since = _seconds_since_epoch(state.last_sent)
            await self._restore(deleted, items)
        finally:
            lock.release()
        return self._result

    def _deleted(self) -> DeletedSet:
        target = self.job.target
        deleted = read_deleted(
            self.job.audit_log, target.host, target.app_id,
            run_id=self._wanted.run_id, ids=self._wanted.ids,
        )  # fmt: skip
        if self._wanted.run_id is not None and self._wanted.run_id not in deleted.real_runs:
            raise JobError(
                f"--run {self._wanted.run_id}: no real run of that id against {target.host} "
                f"in {self.job.audit_log}"
            )
        if not deleted.campaigns:
            which = " of that run" * (self._wanted.run_id is not None)
            which += " among the ids given" * (self._wanted.ids is not None)
            raise JobError(
                f"nothing to restore: {self.job.audit_log} records no deleted campaign{which}"
            )
        return deleted

    def _item(self, campaign_id: str, deleted: DeletedSet) -> _Item:
        kept = deleted.campaigns[campaign_id]
        made = build_create_body(
            merged_snapshot(kept.before, kept.campaign), self.job.restore,
            api=self.job.target.api, campaign_type=self.job.target.campaign_type,
        )  # fmt: skip
        return _Item(campaign_id, made.body, made.error)

    def _say_plan(self, deleted: DeletedSet, done: int, items: list[_Item], in_flight: int) -> None:
        runs, total = ", ".join(deleted.runs), len(deleted.campaigns)
        self._observer.info(
            "restore", f"{plural(total, 'campaign')} deleted by run {runs}; {done} already "
            f"restored (skipped); {len(items)} to restore", total=total,
        )  # fmt: skip
        if in_flight:
            self._observer.warn(
                "in_flight_at_crash", f"{plural(in_flight, 'Create')} of an earlier restore "
                "without a recorded answer (killed?): looked up by name before anything is "
                "sent again", campaigns=in_flight,
            )  # fmt: skip

    async def _restore(self, deleted: DeletedSet, items: list[_Item]) -> None:
        assert self._log is not None
        total = len(deleted.campaigns)
        try:
            self._log.started(
                dry_run=not for_real(self.job), total=total, target=self.job.target,
                runs=deleted.runs,
            )  # fmt: skip
            self._started = True
            for item in items:
                if item.body is None:
                    self._settle(RestoreOutcome(item.campaign_id, None, "failed", None, None,
                                                item.error, None))  # fmt: skip
            sendable = [item for item in items if item.body is not None]
            if not for_real(self.job):
                for item in sendable:
                    self._settle(RestoreOutcome(item.campaign_id, None, "would_restore", None,
                                                None, None, item.body))  # fmt: skip
            elif sendable:
                await self._create_all(sendable)
        except AuditWriteError as exc:
            self._ending.log_failed(str(exc))
        finally:
            self._finish(total)

    async def _create_all(self, items: list[_Item]) -> None:
        history = history_of(self.job)
        async with machinery(self.job, self._ending, history, self._observer.warn) as machine:
            self._machine = machine
            try:
                await self._after_lost_creates()
                await self._learn_names()
            except ApiError as exc:
                self._ending.abort(f"could not list the campaigns' names: {exc.explanation}")
                return
            finally:
                self._result.requests = machine.pool.stats.requests
            gate = asyncio.Semaphore(self.job.run.concurrency)
            self._observer.work_started(len(items), self._result.counts)
            try:
                await asyncio.gather(*(self._create_one(item, gate) for item in items))
            finally:
                self._result.requests = machine.pool.stats.requests
                await self._observer.work_ended()

    async def _after_lost_creates(self) -> None:
        """A Create a killed restore sent may still be on its way to the platform: its name
        is looked up once it would have timed out (``run.timeout`` after it was sent), not
        before."""
        if self._names.lost_since is None:
            return
        wait = self._names.lost_since + self.job.run.timeout - time.time()
        if wait > 0:
            self._observer.info("restore", f"waiting {wait:.1f}s for them to time out first")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._ending.stopped.wait(), wait)

    async def _learn_names(self) -> None:
        """Every campaign name of the account, by paging through the list API once."""
        assert self._machine is not None
        client, pool = self._machine.client, self._machine.pool

        async def fetch_page(body: dict[str, Any]) -> Answer:
            return await pool.request(lambda: client.list_page(body))

        listed, _ = await resolve(
            fetch_page, Selection(), campaign_type=self.job.target.campaign_type,
            now=datetime.now(timezone.utc),
        )  # fmt: skip
        for found in listed:
            self._names.ids.setdefault(found.name, found.id)

    async def _create_one(self, item: _Item, gate: asyncio.Semaphore) -> None:
        assert item.body is not None
        name = str(item.body["name"])
        async with gate, self._names.locks[name]:
            if self._ending.stopped.is_set():
                return  # pending
            outcome = await self._attempts(item, item.body, name)
            if outcome is not None:
                self._settle(outcome)

    async def _attempts(
        self, item: _Item, body: dict[str, Any], name: str
    ) -> RestoreOutcome | None:
        """The Create's tries under the pool's retry policy (Retry-After, a refusal's window,
        backoff between them). A try whose answer was lost looks the names up again first,
        so one made after all is ``exists``, never sent again. None: pending."""
        assert self._machine is not None
        cid = item.campaign_id

        def settled(
            outcome: str,
            new_id: str | None = None,
            status: int | None = None,
            message: str | None = None,
            error: str | None = None,
        ) -> RestoreOutcome:
            return RestoreOutcome(cid, new_id, outcome, status, message, error, body)

        async def attempt() -> RestoreOutcome | None:
            if name in self._names.ids:
                return settled("exists", self._names.ids[name])
            try:
                created = await self._send_create(cid, body, name)
            except NameTaken as exc:
                return settled("exists", None, exc.status, exc.message)
            except RetryableError as exc:  # a 429 was refused, so not made: no look needed
                if not isinstance(exc, RateLimited) and (lost := await self._relearn(exc)):
                    return settled("failed", None, exc.status, exc.message, lost)
                raise  # tried again after the policy's wait
            except AbortError as exc:
                self._ending.abort(exc.explanation, campaign_id=cid)
                return settled("failed", None, exc.status, exc.message, exc.explanation)
            except ApiError as exc:
                return settled("failed", None, exc.status, exc.message, exc.explanation)
            if created is None:
                return None  # the restore stopped before this Create was sent: pending
            self._names.ids[name] = created.new_id
            return settled("restored", created.new_id, created.status, created.message)

        try:
            return await self._machine.pool.retried(attempt)
        except RetryableError as exc:
            error = gave_up(self.job.run.max_attempts, exc.explanation)
            return settled("failed", None, exc.status, exc.message, error)

    async def _relearn(self, lost: RetryableError) -> str | None:
        """The Create's answer was lost: the names are listed again, so that one made after
        all is found before it is sent again; the error when they cannot be (never resent)."""
        try:
            await self._learn_names()
        except ApiError as exc:
            return (
                f"the Create's answer was lost ({lost.explanation}) and the names could not "
                f"be listed again ({exc.explanation}): not sent again; restore again later"
            )
        return None

    async def _send_create(self, cid: str, body: dict[str, Any], name: str) -> Created | None:
        """One Create, its ``sent`` line written once its rate slot is granted."""
        assert self._machine is not None and self._log is not None
        client, log, made = self._machine.client, self._log, []

        async def call() -> Answer:
            log.sent(cid, name)
            created = await client.create(body)
            made.append(created)
            return Answer(created.status, created.message, created.data)

        try:
            if await self._machine.pool.send_once(call) is None:
                return None
        except AuditWriteError as exc:
            self._ending.log_failed(str(exc))
            return None
        return made[0]

    def _settle(self, outcome: RestoreOutcome) -> None:
        assert self._log is not None
        self._result.counts[outcome.outcome] += 1
        self._result.outcomes.append(outcome)
        with contextlib.suppress(AuditWriteError):  # log_failed was told: nothing more is sent
            try:
                self._log.campaign(outcome)
            except AuditWriteError as exc:
                self._ending.log_failed(str(exc))
                raise
        self._observer.settled(outcome)

    def _finish(self, total: int) -> None:
        assert self._log is not None
        counts = self._result.counts
        counts["pending"] = total - sum(v for k, v in counts.items() if k != "pending")
        end = self._ending.end()
        self._result.exit_code = self._ending.exit_code(counts["failed"])
        self._result.reason, self._result.error = end.reason, end.error
        with contextlib.suppress(AuditWriteError):
            self._log.finished(
                counts=counts, exit_code=self._result.exit_code, reason=end.reason,
                error=end.error,
            )  # fmt: skip
        try:
            self._log.close()
        except AuditWriteError as exc:
            self._ending.log_failed(str(exc))
            self._result.exit_code = self._ending.exit_code(counts["failed"])


def _seconds_since_epoch(ts: str | None) -> float:
    """When the latest lost Create was sent; now when its line says no usable time."""
    sent = parse_utc(ts)
    return time.time() if sent is None else min(sent.timestamp(), time.time())
