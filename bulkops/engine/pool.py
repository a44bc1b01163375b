"""The worker pool: takes campaign ids to exactly one outcome each.

``concurrency`` workers share one iterator of ids, so at most that many
requests are in flight. Every attempt, first try or retry, takes a rate slot
from the limiter before it is sent and gives it back when its answer or error
arrives. The pool talks to a small ``CampaignApi`` protocol, never to aiohttp.

A stop (interrupt, an answer that aborts the run, halt after failures) ends
dispatching: campaigns not yet attempted stay pending (no outcome); requests
in flight settle and are recorded; a campaign waiting to be retried is
recorded ``failed`` with its last error, unless the target was never reached
at all (``FirstContact``): then nothing was settled and it stays pending.

``before_send`` (the audit log's write-ahead line) is called before each DELETE
is sent; if it raises AuditWriteError the DELETE is not sent and the run aborts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from bulkops.engine.attempt import Attempt
from bulkops.engine.first_contact import FirstContact
from bulkops.engine.retry import RetryPolicy, refusal_wait
from bulkops.errors import (
    AbortError,
    ApiError,
    AuditWriteError,
    NotFound,
    RateLimited,
    RateStoreError,
    RetryableError,
    TargetUnreachable,
)
from bulkops.model import Answer, Outcome, RunSettings
from bulkops.ratelimit.limiter import SlotLimiter

# Why a run stopped; when several apply the first listed wins (SPEC's exit order).
STOP_PRIORITY = ("interrupted", "aborted", "halted")


class CampaignApi(Protocol):
    async def delete(self, campaign_id: str) -> Answer: ...
    async def get(self, campaign_id: str) -> Answer: ...


@dataclass
class RunStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # rate-limit refusals: 429s and answers worded as one


class _Stopped(Exception):
    """The run stopped while this campaign waited (for the limiter or a retry)."""


class WorkerPool:
    def __init__(
        self,
        api: CampaignApi,
        *,
        settings: RunSettings,
        limiter: SlotLimiter,
        dry_run: bool,
        on_outcome: Callable[[Outcome], None],
        clock: Callable[[], float] = time.monotonic,
        before_send: Callable[[str], None] | None = None,
        on_rate_limited: Callable[[RetryableError], None] = lambda exc: None,
    ) -> None:
        self._call = api.get if dry_run else api.delete
        self._success = "would_delete" if dry_run else "deleted"
        self._settings = settings
        self._limiter = limiter
        self._on_outcome = on_outcome
        self._clock = clock
        self._before_send = None if dry_run else before_send
        self._on_refusal = on_rate_limited
        self._retry = RetryPolicy(settings, sleep=self._sleep_unless_stopped)
        self._refusal_wait = refusal_wait(settings)  # a refusal without Retry-After waits this
        self._contact = FirstContact(
            pause=settings.backoff_initial, sleep=self._sleep_unless_stopped
        )
        self._stop = asyncio.Event()
        self._stop_reasons: set[str] = set()
        self._failures = 0
        self.stats = RunStats()
        self.abort_error: str | None = None  # why the run aborted, for the person

    @property
    def stop_reason(self) -> str | None:
        return next((r for r in STOP_PRIORITY if r in self._stop_reasons), None)

    def stop(self, reason: str) -> None:
        """Stop dispatching; in-flight requests settle. ``reason`` is one of STOP_PRIORITY."""
        self._stop_reasons.add(reason)
        self._stop.set()

    async def settle_all(self, campaign_ids: Iterable[str]) -> str:
        """Settles campaigns until done or stopped; returns the run's reason."""
        ids = iter(campaign_ids)
        workers = [
            asyncio.create_task(self._worker(ids)) for _ in range(self._settings.concurrency)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return self.stop_reason or "completed"

    async def _worker(self, ids: Iterator[str]) -> None:
        while not self._stop.is_set():
            campaign_id = next(ids, None)
            if campaign_id is None:
                return
            outcome = await self._settle(campaign_id)
            if outcome is None:
                return  # stopped before its first attempt: pending
            self._on_outcome(outcome)
            if outcome.outcome == "failed":
                self._failures += 1
                halt_after = self._settings.halt_after_failures
                if halt_after and self._failures >= halt_after:
                    self.stop("halted")

    async def _settle(self, campaign_id: str) -> Outcome | None:
        attempt = Attempt(campaign_id, self._clock)

        async def try_once() -> Answer:
            return await self._send(lambda: self._call(campaign_id), attempt, campaign_id)

        try:
            answer = await self._retry.call(try_once)
        except _Stopped:
            if attempt.tries == 0 or self._contact.unreachable is not None:
                return None
            return attempt.outcome("failed", None, error="run stopped before this campaign settled")
        except NotFound as exc:
            return attempt.outcome("not_found", exc.status, message=exc.message, campaign=exc.data)
        except RateStoreError as exc:
            self.stop("aborted")
            self.abort_error = self.abort_error or exc.explanation
            if attempt.tries == 0:
                return None
            return attempt.outcome("failed", None, error=f"run stopped: {exc.explanation}")
        except AbortError as exc:
            self.stop("aborted")
            if isinstance(exc, TargetUnreachable):
                self.abort_error = self.abort_error or exc.explanation
                return None  # never reached: nothing is known about this campaign
            self.abort_error = self.abort_error or f"{campaign_id}: {exc.explanation}"
            return attempt.outcome("failed", exc.status, error=exc.explanation, message=exc.message)
        except ApiError as exc:
            error = exc.explanation
            if isinstance(exc, RetryableError):
                error = f"gave up after {attempt.tries} attempts; last: {error}"
            return attempt.outcome(
                "failed", exc.status, error=error, message=exc.message, campaign=exc.data
            )
        return attempt.outcome(
            self._success, answer.status, message=answer.message, campaign=answer.data
        )

    async def request(self, call: Callable[[], Awaitable[Answer]]) -> Answer:
        """Any other call (the list calls of a selection) under the same rules as a
        campaign's: admitted by the limiter, counted, retried, and a 429 slows everyone."""

        async def attempt() -> Answer:
            return await self._send(call)

        return await self._retry.call(attempt)

    async def _send(
        self,
        call: Callable[[], Awaitable[Answer]],
        attempt: Attempt | None = None,
        campaign_id: str | None = None,
    ) -> Answer:
        """One request, sent once the first contact with the target allows it (the first
        requests wait for it one by one; after that this is a plain call)."""
        if self._contact.reached:  # the usual case: no detour through the gate
            return await self._send_admitted(call, attempt, campaign_id)
        return await self._contact.send(lambda: self._send_admitted(call, attempt, campaign_id))

    async def _send_admitted(
        self,
        call: Callable[[], Awaitable[Answer]],
        attempt: Attempt | None,
        campaign_id: str | None,
    ) -> Answer:
        """Takes a rate slot right before the request leaves and gives it back when the
        answer or the error is in."""
        ticket = await self._admit()
        sent = False
        try:
            if campaign_id is not None:
                self._write_ahead(campaign_id)
            if attempt is not None:
                attempt.begin()
                self.stats.retries += attempt.tries > 1
            self.stats.requests += 1
            sent_at, sent = self._clock(), True
            try:
                return await call()
            except RateLimited as exc:
                self._on_rate_limited(exc, sent_at)
                raise
        finally:
            self._limiter.release(ticket, sent=sent)

    def _on_rate_limited(self, exc: RateLimited, sent_at: float) -> None:
        """A refusal means the server counts differently from us: pause everyone, then go
        slower. Without Retry-After the pause is one full window of the tightest spec."""
        self.stats.rate_limited += 1
        pause = self._refusal_wait if exc.retry_after is None else exc.retry_after
        self._limiter.slow_down(min(pause, self._settings.max_retry_after), sent_at=sent_at)
        self._on_refusal(exc)

    async def _admit(self) -> str:
        """Waits for a slot; returns its ticket; raises _Stopped if the run stops first."""
        if self._stop.is_set():
            raise _Stopped
        if not self._limiter.caps():  # no limit: acquire never waits, so no race with stop
            return await self._limiter.acquire()
        acquire = asyncio.ensure_future(self._limiter.acquire())
        stopped = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait((acquire, stopped), return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not acquire.done():
            acquire.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                self._limiter.release(await acquire, sent=False)  # granted as it was cancelled
            raise _Stopped
        return acquire.result()

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        if self._stop.is_set():
            raise _Stopped

    def _write_ahead(self, campaign_id: str) -> None:
        """Records that a DELETE is about to be sent; if that fails, it is not sent."""
        if self._before_send is None:
            return
        try:
            self._before_send(campaign_id)
        except AuditWriteError as exc:
            self.stop("aborted")
            self.abort_error = self.abort_error or str(exc)
            raise _Stopped from exc
