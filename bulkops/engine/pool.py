"""The worker pool: takes campaign ids to exactly one outcome each.

``concurrency`` workers share one iterator of ids, so at most that many
requests are in flight. Every request, first try or retry, takes a rate slot
from the limiter right before it is sent and gives it back when its answer or
error arrives: no request holds a slot while it waits for anything else.

The pool is given what to send (an ``Action``): the call for each campaign,
what its success is called, whether each request is written ahead in the audit
log, and, for some campaigns, a call that must be answered before theirs (the
Stop call before a DELETE). That call is a request of its own, with its own
slot and retries.

How the run ends is reported to its ``RunEnding``: a stop (interrupt, an answer
that aborts the run, halt after failures) ends dispatching; campaigns not yet
attempted stay pending (no outcome); requests in flight settle and are recorded;
a campaign waiting to be retried is recorded ``failed`` with its last error,
unless the target was never reached at all (``FirstContact``): then nothing was
settled and it stays pending.

``before_send`` (the audit log's write-ahead line) is called before each request
of an action that writes ahead; if it raises AuditWriteError the request is not
sent and the run aborts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from bulkops.engine.attempt import Attempt
from bulkops.engine.ending import RunEnding
from bulkops.engine.first_contact import FirstContact
from bulkops.engine.retry import RetryPolicy, gave_up, refusal_wait
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

Call = Callable[[], Awaitable[Answer]]
T = TypeVar("T")
Request = Callable[[Call], Awaitable[Answer]]  # WorkerPool.request


@dataclass(frozen=True)
class Action:
    """What the pool sends for each campaign, and what a 2xx answer to it means."""

    send: Callable[[str], Awaitable[Answer]]  # the campaign's own call (DELETE, or GET)
    success: str  # its outcome on a 2xx answer: deleted, or would_delete
    write_ahead: bool  # each request is recorded before it is sent (a DELETE is)
    # called with the pool's ``request`` right before ``send``: an outcome that settles the
    # campaign without its own call (protected), or None to go on; it may send requests of
    # its own (a fresh look at statuses, the Stop call) and raises what ends the campaign
    first: Callable[[str, Request], Awaitable[Outcome | None]] | None = None
    # True when what ``first`` decided is too old by the time the request has its rate slot:
    # the slot is given back unused and ``first`` decides again
    stale: Callable[[], bool] | None = None


@dataclass
class RunStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0  # rate-limit refusals: 429s and answers worded as one
    failed: int = 0  # campaigns settled failed (halt_after_failures counts them)
    in_flight: int = 0  # campaigns whose requests are under way


class _Stopped(Exception):
    """The run stopped while this campaign waited (for the limiter or a retry)."""


class _Stale(Exception):
    """What the action decided before the request went stale while it waited for its slot."""


class WorkerPool:
    def __init__(
        self,
        *,
        settings: RunSettings,
        limiter: SlotLimiter,
        ending: RunEnding,
        on_outcome: Callable[[Outcome], None] = lambda outcome: None,
        clock: Callable[[], float] = time.monotonic,
        before_send: Callable[[str], None] = lambda campaign_id: None,
        on_rate_limited: Callable[[RetryableError], None] = lambda exc: None,
    ) -> None:
        self._settings = settings
        self._limiter = limiter
        self._ending = ending
        self._on_outcome = on_outcome
        self._clock = clock
        self._before_send = before_send
        self._on_refusal = on_rate_limited
        self._retry = RetryPolicy(settings, sleep=self._sleep_unless_stopped)
        self._contact = FirstContact(
            pause=settings.backoff_initial, sleep=self._sleep_unless_stopped
        )
        self.stats = RunStats()
        ending.when_stopped(limiter.give_up_waits)  # no request waiting for its slot is sent

    async def settle_all(self, campaign_ids: Iterable[str], action: Action) -> None:
        """Settles campaigns with ``action`` until done or the run stops."""
        ids = iter(campaign_ids)
        workers = [
            asyncio.create_task(self._worker(ids, action))
            for _ in range(self._settings.concurrency)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, ids: Iterator[str], action: Action) -> None:
        while not self._ending.stopped.is_set():
            campaign_id = next(ids, None)
            if campaign_id is None:
                return
            self.stats.in_flight += 1
            try:
                outcome = await self._settle(campaign_id, action)
            finally:
                self.stats.in_flight -= 1
            if outcome is None:
                return  # stopped before its first attempt: pending
            self._on_outcome(outcome)
            if outcome.outcome == "failed":
                self.stats.failed += 1
                halt_after = self._settings.halt_after_failures
                if halt_after and self.stats.failed >= halt_after:
                    self._ending.halt(halt_after, self.stats.failed, self.stats.in_flight)

    async def _settle(self, campaign_id: str, action: Action) -> Outcome | None:
        attempt = Attempt(campaign_id, self._clock)
        ahead = campaign_id if action.write_ahead else None

        async def try_once() -> Answer:
            return await self._send(lambda: action.send(campaign_id), attempt, ahead, action.stale)

        try:
            answer = await self._decided(campaign_id, action, try_once)
            if isinstance(answer, Outcome):
                return answer
        except _Stopped:
            if attempt.tries == 0 or self._contact.unreachable is not None:
                return None
            return attempt.outcome("failed", None, error="run stopped before this campaign settled")
        except NotFound as exc:
            return attempt.outcome("not_found", exc.status, message=exc.message, campaign=exc.data)
        except RateStoreError as exc:
            self._ending.abort(exc.explanation)
            if attempt.tries == 0:
                return None
            return attempt.outcome("failed", None, error=f"run stopped: {exc.explanation}")
        except AbortError as exc:
            if isinstance(exc, TargetUnreachable):
                self._ending.abort(exc.explanation)
                return None  # never reached: nothing is known about this campaign
            self._ending.abort(exc.explanation, campaign_id=campaign_id)
            return attempt.outcome("failed", exc.status, error=exc.explanation, message=exc.message)
        except ApiError as exc:
            error = exc.explanation
            if isinstance(exc, RetryableError):
                error = gave_up(attempt.tries, error)
            return attempt.outcome(
                "failed", exc.status, error=error, message=exc.message, campaign=exc.data
            )
        return attempt.outcome(
            action.success, answer.status, message=answer.message, campaign=answer.data
        )

    async def _decided(self, campaign_id: str, action: Action, try_once: Call) -> Answer | Outcome:
        """The campaign's own call once ``action.first`` lets it go (its outcome if it does
        not), decided again if the decision went stale while the call waited for its slot."""
        while True:
            first = action.first
            if first is not None and (settled := await first(campaign_id, self.request)):
                return settled
            try:
                return await self._retry.call(try_once)
            except _Stale:
                continue

    async def request(self, call: Call) -> Answer:
        """Any other call (the list calls of a selection) under the same rules as a
        campaign's: admitted by the limiter, counted, retried, and a 429 slows everyone."""

        async def attempt() -> Answer:
            return await self._send(call)

        return await self._retry.call(attempt)

    async def retried(self, attempt: Callable[[], Awaitable[T]]) -> T | None:
        """``attempt()`` under the pool's retry policy, for a caller whose tries are its own
        (a Create, looked up by name before it is sent again). None: the run stopped while
        it waited to try again."""
        try:
            return await self._retry.call(attempt)
        except _Stopped:
            return None

    async def send_once(self, call: Call) -> Answer | None:
        """One request under the pool's rules (admitted by the limiter, counted, a 429 slows
        everyone) but never retried: for a call that must not be repeated blind (a Create
        whose answer was lost). None: the run stopped before it was sent."""
        try:
            return await self._send(call)
        except _Stopped:
            return None

    async def _send(
        self,
        call: Callable[[], Awaitable[Answer]],
        attempt: Attempt | None = None,
        campaign_id: str | None = None,
        stale: Callable[[], bool] | None = None,
    ) -> Answer:
        """One request, sent once the first contact with the target allows it (the first
        requests wait for it one by one; after that this is a plain call)."""
        if self._contact.reached:  # the usual case: no detour through the gate
            return await self._send_admitted(call, attempt, campaign_id, stale)
        return await self._contact.send(
            lambda: self._send_admitted(call, attempt, campaign_id, stale)
        )

    async def _send_admitted(
        self,
        call: Callable[[], Awaitable[Answer]],
        attempt: Attempt | None,
        campaign_id: str | None,
        stale: Callable[[], bool] | None = None,
    ) -> Answer:
        """Takes a rate slot right before the request leaves and gives it back when the
        answer or the error is in (unused, if what allowed the request went ``stale``)."""
        ticket = await self._admit()
        if stale is not None and stale():
            self._limiter.release(ticket, sent=False)
            raise _Stale
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
        pause = refusal_wait(self._settings) if exc.retry_after is None else exc.retry_after
        self._limiter.slow_down(min(pause, self._settings.max_retry_after), sent_at=sent_at)
        self._on_refusal(exc)

    async def _admit(self) -> str:
        """Waits for a slot; returns its ticket; raises _Stopped if the run stops first."""
        if self._ending.stopped.is_set():
            raise _Stopped
        try:
            ticket = await self._limiter.acquire()
        except asyncio.CancelledError:
            if not self._ending.stopped.is_set():
                raise
            raise _Stopped from None  # a slot granted as it was cancelled went back unused
        if self._ending.stopped.is_set():  # granted, but the stop came before this resumed
            self._limiter.release(ticket, sent=False)
            raise _Stopped
        return ticket

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ending.stopped.wait(), seconds)
        if self._ending.stopped.is_set():
            raise _Stopped

    def _write_ahead(self, campaign_id: str) -> None:
        """Records that a DELETE is about to be sent; if that fails, it is not sent."""
        try:
            self._before_send(campaign_id)
        except AuditWriteError as exc:
            self._ending.log_failed(str(exc))
            raise _Stopped from exc
