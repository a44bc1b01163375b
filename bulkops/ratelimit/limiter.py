"""Response-anchored rate slots (``slots``) in a budget store (``budget``): no server
ever counts N+1 of our requests in a window W, wherever it counts their arrival.

One task, the pump, asks the store for as many slots as there are waiters (first come,
first served) in one step that also tells every answer since the last, then sleeps
until a waiter comes, a slot is given back unsent, or one may be free. A 429 pauses
every start and lowers every count; a run without any spec learns one from it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bulkops.errors import RateStoreError
from bulkops.model import RateSpec
from bulkops.ratelimit.budget import MemoryStore
from bulkops.ratelimit.slots import WANT_TTL, Ask, Cap, to_ms

LEARNED_WINDOW = 1.0  # seconds: the window of the limit learned from 429s when none is set
RECENT_STARTS = 4096  # starts remembered to learn that limit from
NO_SLOT = ""  # the ticket of a request under no limit
RENEW = 3.0  # seconds between steps that keep the run's lease while it holds slots
WANT_RENEW = WANT_TTL / 2000  # seconds between steps that keep a waiting run "wanting"
PROBE_AFTER = 10  # clean windows after a refusal before a count goes past the level refused
CLOSE_WITHIN = 0.5  # seconds the last step may take (a signal must end the run at once)


class SlotLimiter:
    """``ticket = await limiter.acquire()`` when a request may be sent;
    ``limiter.release(ticket)`` when its answer or error arrived (always: the pool
    does it in ``finally``); ``slow_down()`` after a 429."""

    def __init__(
        self, specs: Sequence[RateSpec], *, margin: float = 0.0, store: MemoryStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:  # fmt: skip
        self._specs = tuple(specs)
        self._margin = margin  # added to each window after the answer
        self._clock, self._sleep = clock, sleep
        self.store = store or MemoryStore(clock=clock)
        self._allowed = [s.count for s in self._specs]  # per spec: the count honoured now
        self._paused_until = 0.0  # no start before this clock time (Retry-After)
        self._slowed_at = -math.inf  # when the limits were last lowered
        self._changed_at = [-math.inf for _ in self._specs]  # per spec: last lowered or raised
        self._refused = [s.count + 1 for s in self._specs]  # per spec: the lowest count refused
        self._took_all = [False for _ in self._specs]  # per spec: a full count was taken once
        # of granted requests (without specs: to learn a limit from when a 429 comes)
        self._starts: deque[float] = deque(maxlen=RECENT_STARTS)
        self._waiters: deque[asyncio.Future[str]] = deque()  # FIFO
        self._pump: asyncio.Task[None] | None = None  # the one task that steps the store
        self._wake = asyncio.Event()  # a waiter came, or a slot was given back unsent
        self._answers: list[tuple[str, float, bool]] = []  # (ticket, clock time, sent) untold
        self._history: list[float] = []  # clock times of earlier runs' answers, untold
        self._held = 0  # tickets out: while any, the store hears from us every RENEW s
        self._stepped = False  # the store knows this run: it must hear it leave

    def caps(self) -> list[Cap]:
        """(count honoured, window + margin in ms) of every spec."""
        pairs = zip(self._specs, self._allowed, strict=True)
        return [(a, to_ms(s.window + self._margin)) for s, a in pairs]

    def preload(self, answered_ago: Iterable[float]) -> None:
        """Earlier requests (the audit log's), answered that many seconds ago: the server's
        windows still hold them. Told to the store with the next step."""
        self._history = [self._clock() - ago for ago in answered_ago]

    async def acquire(self) -> str:
        """A ticket once a request may be sent; RateStoreError if the budget cannot be used."""
        if not self._specs:
            self._starts.append(self._clock())
            return NO_SLOT
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._start_pump()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result(), sent=False)  # granted, then given up: unused
            raise

    def release(self, ticket: str, *, sent: bool = True) -> None:
        """The answer (or error) of ``ticket``'s request arrived now; ``sent=False``: it
        never left, and its slot is free at once. Told with the next step."""
        if ticket != NO_SLOT:
            self._held -= 1
            self._answers.append((ticket, self._clock(), sent))
            if not sent or not self._waiters:
                self._start_pump()

    async def close(self) -> None:
        """Tells the store the answers still untold and that this run takes no more."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        try:
            if self._stepped:
                leave = Ask(0, self.caps(), self._untold(), leave=True)
                await asyncio.wait_for(self.store.step(leave), CLOSE_WITHIN)
        except asyncio.TimeoutError:
            raise RateStoreError(
                f"{self.store.description} was busy: this run's last answers were not told; "
                "its slots free when its lease ends"
            ) from None
        finally:
            await self.store.close()

    def _start_pump(self) -> None:
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._serve())
        self._wake.set()

    async def _serve(self) -> None:
        try:
            while self._waiters or self._answers or self._held > 0:
                self._wake.clear()
                if (pause := self._paused_until - self._clock()) > 0:
                    await self._nap(self._sleep(pause))
                    continue
                history, self._history = [to_ms(self._clock() - t) for t in self._history], []
                want = self._live_waiters()
                grant = await self.store.step(Ask(want, self.caps(), self._untold(), history))
                self._stepped = True
                self._hand_out(grant.tokens)
                if self._live_waiters():
                    await self._nap(self._sleep(min(grant.wait / 1000, WANT_RENEW)))
                elif self._held > 0:  # the lease is on the store's clock: real seconds
                    await self._nap(asyncio.sleep(RENEW))
        except Exception as exc:  # the store failed: every waiter hears it
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            self._waiters.clear()
        finally:
            self._pump = None

    async def _nap(self, sleep: Awaitable[object]) -> None:
        """Awaits ``sleep`` unless woken first."""
        naps = [asyncio.ensure_future(sleep), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(naps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for nap in naps:
                nap.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*naps, return_exceptions=True)

    def _live_waiters(self) -> int:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()  # cancelled while waiting
        return len(self._waiters)

    def _hand_out(self, tokens: Iterable[str]) -> None:
        for token in tokens:
            self._held += 1
            if not self._live_waiters():
                self.release(token, sent=False)
                continue
            self._waiters.popleft().set_result(token)
            self._starts.append(self._clock())
            if self._slowed_at > -math.inf:
                self._recover(self._clock())

    def _untold(self) -> list[tuple[str, int, bool]]:
        """The answers not yet told, as (ticket, ms ago, sent); the caller tells them."""
        answers, self._answers, now = self._answers, [], self._clock()
        return [(t, int((now - at) * 1000), sent) for t, at, sent in answers]

    def _recover(self, now: float) -> None:
        """A clean window gives back a tenth of a count up to one below the count refused
        (another client may use the rest); one more a window past it only ``PROBE_AFTER``
        windows after the last 429: at most one request over what the server took."""
        for i, spec in enumerate(self._specs):
            allowed, top = self._allowed[i], min(spec.count, self._refused[i] - 1)
            if allowed >= spec.count or now - self._changed_at[i] < spec.window:
                continue
            if allowed < top:
                self._allowed[i] = min(top, allowed + max(1, spec.count // 10))
            elif now - self._slowed_at >= PROBE_AFTER * spec.window:
                self._allowed[i], self._refused[i] = allowed + 1, self._refused[i] + 1
            else:
                continue
            self._changed_at[i] = now

    def refusals(self) -> list[tuple[RateSpec, int, bool]]:
        """Per spec the server refused at: (spec, how many of ours it took in the spec's
        window then, whether it took the spec's full count in a window before the refusal)."""
        marks = zip(self._specs, self._refused, self._took_all, strict=True)
        return [(s, max(0, r - 1), full) for s, r, full in marks if r <= s.count]

    def slow_down(self, pause: float, factor: float = 0.8, *, sent_at: float | None = None) -> None:
        """After a 429: no start for ``pause`` seconds, and every count times ``factor``.
        ``sent_at`` (when the refused request left) tells one burst's refusals apart: the
        first marks the count the server refused, each later one lowers that mark by one
        (one more that did not fit) and the count stays below it."""
        now = self._clock()
        self._paused_until = max(self._paused_until, now + pause)
        if sent_at is not None and sent_at < self._slowed_at:
            self._refused = [max(1, r - 1) for r in self._refused]
            pairs = zip(self._allowed, self._refused, strict=True)
            self._allowed = [max(1, min(a, r - 1)) for a, r in pairs]
            return
        self._slowed_at = now
        self._changed_at = [self._paused_until for _ in self._specs]  # recovery after the pause
        if sent_at is not None:  # what we started in the window: as many as were in flight
            self._took_all = [
                took or _most_in_window(self._starts, sent_at, s.window) >= s.count
                for took, s in zip(self._took_all, self._specs, strict=True)
            ]
            by_spec = zip(self._allowed, self._specs, strict=True)
            self._refused = [
                min(a, sum(t > now - s.window for t in self._starts)) for a, s in by_spec
            ]
        self._allowed = [max(1, math.floor(a * factor)) for a in self._allowed]
        if not self._specs:  # the last second's starts times factor
            recent = [t for t in self._starts if t > now - LEARNED_WINDOW]
            count = max(1, math.floor(len(recent) * factor))
            self._specs = (RateSpec(count, LEARNED_WINDOW, f"{count}/s (learned from 429s)"),)
            self._allowed, self._changed_at = [count], [now]
            self._refused, self._took_all = [count + 1], [False]
            self.preload(now - t for t in recent[-count:])


def _most_in_window(starts: Iterable[float], before: float, window: float) -> int:
    """The most of ``starts`` (in order) before ``before`` in any ``window`` seconds."""
    times = [t for t in starts if t < before]
    return max(
        (i + 1 - bisect.bisect_right(times, t - window) for i, t in enumerate(times)), default=0
    )
