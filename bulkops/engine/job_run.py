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
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone

from bulkops.engine.guards import StopFirst, protect_answered
from bulkops.engine.observer import RunObserver
from bulkops.engine.pool import WorkerPool
from bulkops.engine.preview import Prepared, prepare
from bulkops.engine.recorder import Ending, RunRecorder
from bulkops.engine.selection import resolve
from bulkops.errors import (
    AbortError,
    ApiError,
    AuditWriteError,
    Interrupted,
    JobError,
    RetryableError,
)
from bulkops.ids import shown
from bulkops.job import check_max_deletes
from bulkops.job.loader import unmatched_exclude
from bulkops.kore.client import KoreClient, open_session
from bulkops.kore.tokens import JwtMinter, TokenSource, token_source
from bulkops.model import Answer, Job, Outcome, RunResult
from bulkops.ratelimit.budget import answer_ages, open_store
from bulkops.ratelimit.limiter import SlotLimiter
from bulkops.records.audit_log import AuditLock, AuditWriter
from bulkops.records.history import History, read_history
from bulkops.utc import utc_now


class Declined(JobError):
    """The person at the terminal did not confirm; nothing was deleted."""


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


class JobRun:
    """One run of ``job``: ``await JobRun(job, observer).execute()`` returns its result.

    JobError and LockedError escape ``execute`` with nothing deleted and nothing
    logged; ``refused()`` then describes the run for monitoring files.
    """

    def __init__(
        self,
        job: Job,
        observer: RunObserver,
        *,
        fresh: bool = False,
        plan_ids: Sequence[str] | None = None,
    ) -> None:
        self.job = job
        self.run_id = new_run_id()
        self._observer = observer
        self._fresh = fresh
        self.plan_ids = plan_ids  # a reviewed plan replaces the job's own selection
        store = open_store(job.run, job.target) if job.run.rates else None
        self._limiter = SlotLimiter(job.run.rates, margin=job.run.rate_margin, store=store)
        self._began = time.monotonic()
        self._started_at = ""
        self._list_calls = 0
        self._pool: WorkerPool | None = None
        self._recorder: RunRecorder | None = None
        self._previews: list[dict[str, object]] = []
        self._writer: AuditWriter | None = None
        self._protected: list[dict[str, object]] = []
        self._not_found: list[str] = []
        self._excluded: tuple[str, ...] = job.excluded
        self._listed: dict[str, dict[str, object]] | None = None  # a select job's list items
        self._api: StopFirst | None = None

    def interrupt(self, signum: int) -> None:
        """A signal: stop dispatching; requests in flight settle and are recorded.

        Before the run has started (at the prompt, while the selection is listed)
        it raises Interrupted: nothing was deleted, and there is nothing to settle."""
        if self._recorder is None:
            raise Interrupted(signum)
        self._recorder.ending.signum = signum
        if self._pool is not None:
            self._pool.stop("interrupted")

    def refused(self, reason: str, error: str, exit_code: int) -> RunResult:
        """This run as monitoring sees it when it stopped before ``run_started``."""
        now = utc_now()
        return RunResult(
            self.run_id, self.job.name, self.job.run.dry_run, str(self.job.audit_log),
            started_at=self._started_at or now, finished_at=now, exit_code=exit_code,
            reason=reason, error=error, list_calls=self._list_calls,
        )  # fmt: skip

    async def execute(self) -> RunResult:
        lock = AuditLock(self.job.audit_log)
        lock.acquire()
        try:
            history = self._read_history()
            self._writer = AuditWriter(self.job.audit_log, torn_tail=history.torn_tail)
            self._preload_history(history)
            async with open_session(self.job.run.concurrency) as session:
                target = self.job.target
                client = KoreClient(
                    session, host=target.host, app_id=target.app_id,
                    account_id=target.account_id, campaign_type=target.campaign_type,
                    tokens=self._tokens(), timeout=self.job.run.timeout, api=target.api,
                    wordings=self.job.answers, secret_source=self.job.auth.secret_source,
                )  # fmt: skip
                self._api = StopFirst(client)
                self._pool = WorkerPool(
                    self._api, settings=self.job.run, limiter=self._limiter,
                    dry_run=self.job.run.dry_run, on_outcome=self._settled,
                    before_send=self._write_ahead,
                    on_rate_limited=self._refused_for_rate,
                )  # fmt: skip
                self._api.request = self._pool.request
                try:
                    return await self._run(client, self._pool, history)
                finally:
                    await self._limiter_closed()
        finally:
            if self._recorder is None and self._writer is not None:
                with contextlib.suppress(AuditWriteError):
                    self._writer.close()  # the run never started: nothing to finish
            lock.release()

    async def _run(self, client: KoreClient, pool: WorkerPool, history: History) -> RunResult:
        self._started_at = utc_now()
        try:
            ids = await self._campaign_ids()
        except ApiError as exc:
            with self._recording(history, total=0, skipped=0) as ending:
                ending.error = f"could not resolve the selection: {exc.explanation}"
            return self._result(pool)
        self._check_count(len(ids))
        done = set() if self._fresh else history.done
        todo = [i for i in ids if i not in done]
        try:
            work = await self._prepare(client, pool, todo)
        except ApiError as exc:
            with self._recording(history, total=len(ids), skipped=len(ids) - len(todo)) as ending:
                what = "learn the campaigns' statuses (run.protect_status)"
                if self.job.run.dry_run:
                    what = "preview the campaigns"
                ending.error = f"could not {what}: {exc.explanation}"
            return self._result(pool)
        if not self.job.run.dry_run and work.send and not self._observer.confirm(len(work.send)):
            raise Declined("not confirmed: nothing was deleted")
        with self._recording(history, total=len(ids), skipped=len(ids) - len(todo)) as ending:
            if skipped := len(ids) - len(todo):
                self._observer.info(
                    "resume", f"skipping {skipped} campaigns already done in earlier runs "
                    f"recorded in {self.job.audit_log} (--fresh ignores them)", skipped=skipped,
                )  # fmt: skip
            for outcome in work.settled:
                self._settled(outcome)
            assert self._recorder is not None
            self._observer.work_started(len(work.send), self._recorder.counts)
            try:
                ending.reason = await pool.settle_all(work.send)
            finally:
                await self._observer.work_ended()
                ending.reason = pool.stop_reason or ending.reason
                ending.error = pool.abort_error
        return self._result(pool)

    async def _prepare(self, client: KoreClient, pool: WorkerPool, todo: list[str]) -> Prepared:
        """What the run knows without a request per campaign, at the fewest requests."""
        work = await prepare(
            self.job, todo, self._listed, fetch_page=self._fetch_page,
            get_one=lambda campaign_id: pool.request(lambda: client.get(campaign_id)),
            say=lambda text: self._observer.info("requests", text),
        )  # fmt: skip
        if kept := sum(1 for o in work.settled if o.outcome == "protected"):
            statuses = ", ".join(self.job.run.protect_status)
            self._observer.info(
                "protected", f"{kept} campaigns are protected (status {statuses}: "
                "run.protect_status): they are kept, not deleted", protected=kept,
            )  # fmt: skip
        if work.stop_first:
            verb = "would be" if self.job.run.dry_run else "are"
            self._observer.info(
                "stop_first", f"{len(work.stop_first)} Active campaigns {verb} stopped "
                "(Kore.ai's Stop call) before their delete (run.stop_before_delete)",
            )  # fmt: skip
        assert self._api is not None
        self._api.to_stop = work.stop_first
        return work

    async def _fetch_page(self, body: dict[str, object]) -> Answer:
        assert self._pool is not None and self._api is not None
        self._list_calls += 1
        client = self._api.client
        return await _list_call(self._pool, lambda: client.list_page(body))

    def _recording(
        self, history: History, *, total: int, skipped: int
    ) -> AbstractContextManager[Ending]:
        if history.torn_tail:
            self._observer.warn(
                "audit_torn_line", f"{self.job.audit_log}: the last line was cut off by a crash; "
                "it stays as it is and this run starts on a new line",
            )  # fmt: skip
        assert self._writer is not None
        self._recorder = RunRecorder(self._writer, self.job, self.run_id, started=self._began)
        return self._recorder.recording(total, skipped)

    def _check_count(self, count: int) -> None:
        if not self.job.run.dry_run:
            check_max_deletes(self.job, count)
        elif count > self.job.run.max_deletes:
            self._observer.warn(
                "max_deletes", f"{count} campaigns selected: a real run would be refused "
                f"(run.max_deletes is {self.job.run.max_deletes})",
            )  # fmt: skip

    def _read_history(self) -> History:
        target = self.job.target
        keep = max((spec.count for spec in self.job.run.rates), default=0)
        try:
            history = read_history(self.job.audit_log, target.host, target.app_id, keep_starts=keep)
        except OSError as exc:
            raise JobError(
                f"audit log {self.job.audit_log}: cannot read it: {exc.strerror}"
            ) from exc
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
                "in_flight_at_crash", f"{len(history.in_flight)} campaigns were sent a DELETE by "
                "an earlier run that stopped before recording the answer (killed?), e.g. "
                f"{shown(history.in_flight[0])}: they are tried again, and not_found for them "
                "most likely means that run deleted them", campaigns=len(history.in_flight),
            )  # fmt: skip
        return history

    def _preload_history(self, history: History) -> None:
        """The server's windows still count the previous runs' requests: so must we. A time
        in the future (a clock set back, a hand edit) would stall the run: it is ignored."""
        now = time.time()
        # an unanswered request of a killed run arrived before it timed out, if at all
        unanswered = [min(now, t + self.job.run.timeout) for t in history.in_flight_sent]
        ages, ahead = answer_ages([*history.recent_starts, *unanswered], now)
        self._limiter.preload(ages)
        if ahead:
            self._observer.warn(
                "audit_future_times", f"{self.job.audit_log}: {len(ahead)} request times lie "
                f"in the future (up to {max(ahead):.0f} s ahead: was the clock set back?); "
                "the rate limit ignores them", count=len(ahead),
            )  # fmt: skip

    def _refused_for_rate(self, exc: RetryableError) -> None:
        assert self._pool is not None
        if self._pool.stats.rate_limited == 1:
            self._observer.warn(
                "rate_limited", f"the server refused a request for rate ({exc.explanation}): "
                "slowing down; another client may be using this account's budget",
            )  # fmt: skip

    async def _limiter_closed(self) -> None:
        try:
            await self._limiter.close()
        except ApiError as exc:  # the budget store went away: its slots lapse on their own
            assert self._pool is not None
            if self._pool.abort_error != exc.explanation:  # else the run's error says it
                self._observer.warn("rate_store", exc.explanation)
        assert self._pool is not None
        if refused := self._pool.stats.rate_limited:
            self._observer.warn(
                "rate_limited", f"the server refused {refused} request{'s' * (refused > 1)} "
                "for rate in this run "
                f"(limit {', '.join(map(str, self.job.run.rates)) or 'none'})", count=refused,
            )  # fmt: skip

    def _tokens(self) -> TokenSource:
        tokens = token_source(self.job.auth)
        if isinstance(tokens, JwtMinter) and tokens.short_key:
            self._observer.warn("short_secret", "the client secret is shorter than 32 bytes")
        return tokens

    async def _campaign_ids(self) -> list[str]:
        if self.plan_ids is not None:
            return [i for i in self.plan_ids if i not in self.job.exclude]
        if self.job.select is None:
            return list(self.job.campaign_ids)
        started = time.monotonic()
        listed, pages = await resolve(
            self._fetch_page,
            self.job.select,
            campaign_type=self.job.target.campaign_type,
            now=datetime.now(timezone.utc),
            on_invalid=self._invalid_listed_id,
        )
        exclude = self.job.exclude
        chosen = [c for c in listed if c.id not in exclude]
        self._excluded = tuple(c.id for c in listed if c.id in exclude)
        if unmatched := sorted(exclude.difference(c.id for c in listed)):
            self._observer.warn("exclude", unmatched_exclude(unmatched, "the selected campaigns"))
        self._listed = {c.id: c.data for c in chosen}
        self._observer.info(
            "selected", f"selected {len(chosen)} campaigns with {pages} list calls "
            f"in {time.monotonic() - started:.2f}s", selected=len(chosen), list_calls=pages,
        )  # fmt: skip
        return [c.id for c in chosen]

    def _invalid_listed_id(self, campaign_id: str, problem: str) -> None:
        self._observer.warn(
            "invalid_id", f"the list call returned campaign id {shown(campaign_id)}, which "
            f"{problem}: it is not a campaign id bulkops can address; skipped, never sent",
        )  # fmt: skip

    def _write_ahead(self, campaign_id: str) -> None:
        assert self._recorder is not None
        self._recorder.sent(campaign_id)

    def _settled(self, outcome: Outcome) -> None:
        assert self._recorder is not None and self._pool is not None
        if self.job.run.dry_run:
            outcome = protect_answered(outcome, self.job.run.protect_status)
        try:
            self._recorder.campaign(outcome)
        except AuditWriteError as exc:
            self._pool.stop("aborted")
            self._pool.abort_error = self._pool.abort_error or str(exc)
        rows = {"would_delete": self._previews, "protected": self._protected}.get(outcome.outcome)
        if rows is not None:
            data = outcome.campaign or {}
            rows.append(
                {
                    "id": outcome.campaign_id,
                    "name": data.get("name"),
                    "status": data.get("status"),
                    "createdAt": data.get("createdAt"),
                }
            )
        elif outcome.outcome == "not_found":
            self._not_found.append(outcome.campaign_id)
        self._observer.settled(outcome)

    def _result(self, pool: WorkerPool) -> RunResult:
        rec = self._recorder
        assert rec is not None
        stats = pool.stats
        return RunResult(
            run_id=self.run_id,
            job=self.job.name,
            dry_run=self.job.run.dry_run,
            audit_log=str(self.job.audit_log),
            total=rec.total,
            counts=dict(rec.counts),
            started_at=self._started_at,
            finished_at=utc_now(),
            duration_s=rec.duration_s,
            exit_code=rec.exit_code,
            reason=rec.ending.reason,
            requests=stats.requests,
            retries=stats.retries,
            rate_limited=stats.rate_limited,
            list_calls=self._list_calls,
            error=rec.ending.error,
            previews=tuple(self._previews),
            protected=tuple(self._protected),
            not_found=tuple(self._not_found),
            excluded=self._excluded,
        )


async def _list_call(pool: WorkerPool, call: Callable[[], Awaitable[Answer]]) -> Answer:
    try:
        return await pool.request(call)
    except AbortError:
        raise
    except ApiError as exc:
        raise ApiError(f"list call failed: {exc.explanation}", status=exc.status) from exc
