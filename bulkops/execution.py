"""One run of a job, from lock to ``run_finished``.

lock the audit log → read what earlier runs settled → resolve the campaigns
(select) → check max_deletes → confirm → run_started → runner → run_finished.
Whatever happens after ``run_started``, ``run_finished`` is written and the
lock released; the counts add up to ``total``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bulkops import __version__
from bulkops.audit import COUNT_KEYS, AuditLock, AuditWriter, History, read_history, utc_now
from bulkops.auth import JwtMinter, StaticToken, TokenSource
from bulkops.client import Answer, KoreClient, open_session
from bulkops.console import Console
from bulkops.errors import ApiError, AuthError, JobError
from bulkops.job import Job, check_max_deletes
from bulkops.progress import Progress
from bulkops.ratelimit import RollingWindowLimiter
from bulkops.runner import Outcome, Runner
from bulkops.select import resolve

EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}

Confirm = Callable[[int], bool]


class Declined(JobError):
    """The person at the terminal did not confirm; nothing was deleted."""


@dataclass
class RunSummary:
    run_id: str
    job: str
    dry_run: bool
    audit_log: str
    total: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    exit_code: int = 0
    reason: str = "completed"
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    list_calls: int = 0
    error: str | None = None  # why the run aborted before its campaigns, if it did
    previews: list[dict[str, Any]] = field(default_factory=list)  # dry run: would_delete rows


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def token_source(job: Job) -> TokenSource:
    if job.auth.token is not None:
        return StaticToken(job.auth.token.reveal())
    assert job.auth.client_secret is not None  # job.py guarantees one of the two
    return JwtMinter(
        job.auth.client_id,
        job.auth.client_secret.reveal(),
        subject=job.auth.subject,
        ttl=job.auth.token_ttl,
    )


def exit_code_for(reason: str, failed: int, signum: int | None) -> int:
    if reason == "interrupted":
        return EXIT_BY_SIGNAL.get(signal.Signals(signum or signal.SIGINT), 130)
    if reason in ("aborted", "halted"):
        return 3
    return 1 if failed else 0


class Execution:
    """One run: the job, where it reports, the audit log, the limiter, and its summary."""

    def __init__(
        self,
        job: Job,
        console: Console,
        *,
        fresh: bool = False,
        plan_ids: Sequence[str] | None = None,
    ) -> None:
        self.job = job
        self.console = console
        self.fresh = fresh
        self.plan_ids = plan_ids  # a reviewed plan replaces the job's own selection
        self.summary = RunSummary(new_run_id(), job.name, job.run.dry_run, str(job.audit_log))
        self.limiter = RollingWindowLimiter(job.run.rates, margin=job.run.rate_margin)
        self._monotonic_start = time.monotonic()
        self._signum: int | None = None
        self._runner: Runner | None = None
        self._writer: AuditWriter | None = None
        self._progress: Progress | None = None

    async def execute(self, confirm: Confirm | None = None) -> RunSummary:
        """Runs the job. JobError/LockedError escape with nothing deleted and nothing logged."""
        lock = AuditLock(self.job.audit_log)
        lock.acquire()
        try:
            history = self._read_history()
            async with open_session(self.job.run.concurrency) as session:
                client = KoreClient(
                    session,
                    host=self.job.target.host,
                    app_id=self.job.target.app_id,
                    account_id=self.job.target.account_id,
                    campaign_type=self.job.target.campaign_type,
                    tokens=self._tokens(),
                    timeout=self.job.run.timeout,
                )
                self._runner = Runner(
                    client,
                    settings=self.job.run,
                    limiter=self.limiter,
                    dry_run=self.job.run.dry_run,
                    on_outcome=self._on_outcome,
                )
                await self._execute(client, history, confirm)
        finally:
            if self._writer is not None:
                self._writer.close()
            lock.release()
        return self.summary

    async def _execute(self, client: KoreClient, history: History, confirm: Confirm | None) -> None:
        self.summary.started_at = utc_now()
        try:
            ids = await self._campaign_ids(client)
        except ApiError as exc:
            self._open_writer(history)
            self._write_started()
            self.summary.error = f"could not resolve the selection: {exc.explanation}"
            self._finish("aborted")
            return
        if not self.job.run.dry_run:
            check_max_deletes(self.job, len(ids))
        elif len(ids) > self.job.run.max_deletes:
            self.console.warn(
                "max_deletes", f"{len(ids)} campaigns selected: a real run would be refused "
                f"(run.max_deletes is {self.job.run.max_deletes})",
            )  # fmt: skip
        done = set() if self.fresh else history.done
        todo = [i for i in ids if i not in done]
        if not self.job.run.dry_run and confirm is not None and todo and not confirm(len(todo)):
            raise Declined("not confirmed: nothing was deleted")
        self._open_writer(history)
        self.summary.total = len(ids)
        self.summary.counts["skipped"] = len(ids) - len(todo)
        self._write_started()
        if skipped := self.summary.counts["skipped"]:
            self.console.info(
                "resume", f"skipping {skipped} campaigns already done in earlier runs "
                f"recorded in {self.job.audit_log} (--fresh ignores them)", skipped=skipped,
            )  # fmt: skip
        await self._run(todo)

    def _read_history(self) -> History:
        target = self.job.target
        keep = max((spec.count for spec in self.job.run.rates), default=0)
        history = read_history(self.job.audit_log, target.host, target.app_id, keep_starts=keep)
        # the server's windows still count the previous runs' requests: so must we
        to_clock = time.monotonic() - time.time()
        self.limiter.preload(t + to_clock for t in history.recent_starts)
        for bad in history.problems[:5]:
            self.console.warn(
                "audit_bad_line", f"{self.job.audit_log}:{bad.lineno}: {bad.problem}; ignored",
                line=bad.lineno,
            )  # fmt: skip
        if len(history.problems) > 5:
            self.console.warn("audit_bad_line", f"… and {len(history.problems) - 5} more bad lines")
        return history

    def _tokens(self) -> TokenSource:
        tokens = token_source(self.job)
        if isinstance(tokens, JwtMinter) and tokens.short_key:
            self.console.warn("short_secret", "the client secret is shorter than 32 bytes")
        return tokens

    async def _campaign_ids(self, client: KoreClient) -> list[str]:
        if self.plan_ids is not None:
            return [i for i in self.plan_ids if i not in self.job.exclude]
        if self.job.select is None:
            return list(self.job.campaign_ids)
        started = time.monotonic()
        chosen, pages = await resolve(
            lambda body: self._list_call(lambda: client.list_page(body)),
            self.job.select,
            campaign_type=self.job.target.campaign_type,
            now=datetime.now(timezone.utc),
            exclude=self.job.exclude,
        )
        self.summary.list_calls = pages
        self.console.info(
            "selected", f"selected {len(chosen)} campaigns with {pages} list calls "
            f"in {time.monotonic() - started:.2f}s", selected=len(chosen), list_calls=pages,
        )  # fmt: skip
        return [c.id for c in chosen]

    async def _list_call(self, call: Callable[[], Awaitable[Answer]]) -> Answer:
        assert self._runner is not None
        try:
            return await self._runner.request(call)
        except AuthError:
            raise
        except ApiError as exc:
            raise ApiError(f"list call failed: {exc.explanation}", status=exc.status) from exc

    def _open_writer(self, history: History) -> None:
        if history.torn_tail:
            self.console.warn(
                "audit_torn_line", f"{self.job.audit_log}: the last line was cut off by a crash; "
                "it stays as it is and this run starts on a new line",
            )  # fmt: skip
        self._writer = AuditWriter(self.job.audit_log, torn_tail=history.torn_tail)

    def _record(self, event: str, **fields: Any) -> None:
        assert self._writer is not None
        self._writer.write(
            {
                "event": event,
                "ts": utc_now(),
                "run_id": self.summary.run_id,
                "job": self.job.name,
                **fields,
            }
        )

    def _write_started(self) -> None:
        target = self.job.target
        self._record(
            "run_started",
            dry_run=self.job.run.dry_run,
            total=self.summary.total,
            target={"host": target.host, "app_id": target.app_id, "account_id": target.account_id},
            version=__version__,
        )

    async def _run(self, todo: list[str]) -> None:
        assert self._runner is not None
        runner = self._runner
        self._progress = progress = Progress(self.console, len(todo), self.summary.counts)
        reason = "aborted"
        with _SignalStop(self, runner):
            progress.start()
            try:
                reason = await runner.run(todo)
            finally:
                await progress.stop()
                self._finish(runner.stop_reason or reason)

    def _on_outcome(self, outcome: Outcome) -> None:
        self._record(
            "campaign",
            campaign_id=outcome.campaign_id,
            outcome=outcome.outcome,
            http_status=outcome.http_status,
            attempts=outcome.attempts,
            duration_ms=outcome.duration_ms,
            message=outcome.message,
            error=outcome.error,
            campaign=outcome.campaign,
        )
        self.summary.counts[outcome.outcome] += 1
        assert self._progress is not None
        self._progress.update()
        if outcome.outcome == "would_delete":
            data = outcome.campaign or {}
            self.summary.previews.append(
                {
                    "id": outcome.campaign_id,
                    "name": data.get("name"),
                    "status": data.get("status"),
                    "createdAt": data.get("createdAt"),
                }
            )

    def _finish(self, reason: str) -> None:
        s = self.summary
        if self._runner is not None:
            stats = self._runner.stats
            s.requests, s.retries, s.rate_limited = (
                stats.requests,
                stats.retries,
                stats.rate_limited,
            )
            s.error = s.error or self._runner.abort_error
        settled = sum(s.counts[k] for k in COUNT_KEYS if k != "pending")
        s.counts["pending"] = s.total - settled
        s.reason = reason
        s.exit_code = exit_code_for(reason, s.counts["failed"], self._signum)
        s.finished_at = utc_now()
        s.duration_s = round(time.monotonic() - self._monotonic_start, 3)
        self._record(
            "run_finished",
            counts=dict(s.counts),
            duration_s=s.duration_s,
            exit_code=s.exit_code,
            reason=reason,
        )

    def on_signal(self, signum: int, runner: Runner) -> None:
        if self._signum is not None:
            # a second signal: leave now; every line already written is whole
            os._exit(EXIT_BY_SIGNAL.get(signal.Signals(signum), 130))
        self._signum = signum
        self.console.warn(
            "interrupted", "interrupted: letting requests in flight finish "
            "(press Ctrl-C again to quit at once)", signal=signal.Signals(signum).name,
        )  # fmt: skip
        runner.stop("interrupted")


class _SignalStop:
    """SIGINT/SIGTERM stop dispatching while the runner works."""

    def __init__(self, execution: Execution, runner: Runner) -> None:
        self._execution = execution
        self._runner = runner
        self._loop = asyncio.get_running_loop()

    def __enter__(self) -> None:
        for signum in EXIT_BY_SIGNAL:
            self._loop.add_signal_handler(signum, self._execution.on_signal, signum, self._runner)

    def __exit__(self, *exc: object) -> None:
        for signum in EXIT_BY_SIGNAL:
            self._loop.remove_signal_handler(signum)
