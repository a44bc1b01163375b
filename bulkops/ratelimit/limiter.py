"""Response-anchored rate slots (``slots``) in a budget store (``budget``): no server
ever counts N+1 of our requests in a window W, wherever it counts their arrival.

One task, the pump, asks the store for the waiters' slots (first come, first served) and
``SPARE`` more, which later requests take without a wait, in one step that tells every
answer since the last and gives the spare back, then sleeps until a waiter comes, a slot is
given back unsent, or one may be free. A 429 pauses every start and lowers every count; a
run without any spec learns one from it."""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from bulkops.errors import RateStoreError
from bulkops.model import RateSpec
from bulkops.ratelimit.budget import MemoryStore
from bulkops.ratelimit.slots import WANT_TTL, Ask, Cap, to_ms

LEARNED_WINDOW = 1.0  # seconds: the window of the limit learned from 429s when none is set
RECENT_STARTS = 4096  # starts remembered to learn that limit from
NO_SLOT = ""  # the ticket of a request under no limit
RENEW = 3.0  # seconds between steps that keep the run's lease while it holds slots
WANT_RENEW = WANT_TTL / 2000  # seconds between steps that keep a waiting run "wanting"
PROBE_AFTER = 10  # clean windows after a 429 before a count goes past what the server took
CLOSE_WITHIN = 0.5  # seconds the last step may take (a signal must end the run at once)
SPARE = 256  # slots asked beyond the waiters (the store grants them only far from the limit)


class SlotLimiter:
    """``ticket = await acquire()`` when a request may be sent, ``release(ticket)`` when its
    answer or error is in (always, in the pool's ``finally``); ``slow_down()`` after a 429."""

    def __init__(
        self, specs: Sequence[RateSpec], *, margin: float = 0.0, store: MemoryStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:  # fmt: skip
        self._levels = [_Level(s, s.count, s.count) for s in specs]
        self._margin = margin  # added to each window after the answer
        self._clock, self._sleep = clock, sleep
        self.store = store or MemoryStore(clock=clock)
        self._paused_until = 0.0  # no start before this clock time (Retry-After)
        self._slowed_at = -math.inf  # when the limits were last lowered
        self._starts: deque[float] = deque(maxlen=RECENT_STARTS)  # granted: to judge 429s by
        self._waiters: deque[asyncio.Future[str]] = deque()  # FIFO
        self._pump: asyncio.Task[None] | None = None  # the one task that steps the store
        self._wake = asyncio.Event()  # a waiter came, or a slot was given back unsent
        self._answers: list[tuple[str, float, bool]] = []  # (ticket, clock time, sent) untold
        self._history: list[float] = []  # clock times of earlier runs' answers, untold
        self._held = 0  # tickets out: while any, the store hears from us every RENEW s
        self._spare: list[str] = []  # granted beyond the waiters: the next requests' tickets
        self._stepped = False  # the store knows this run: it must hear it leave

    def caps(self) -> list[Cap]:
        """(count honoured, window + margin in ms) of every spec."""
        return [(v.allowed, to_ms(v.spec.window + self._margin)) for v in self._levels]

    def preload(self, answered_ago: Iterable[float]) -> None:
        """Earlier requests (the audit log's), answered that many seconds ago: the server's
        windows still hold them. Told to the store with the next step."""
        self._history = [self._clock() - ago for ago in answered_ago]

    async def acquire(self) -> str:
        """A ticket once a request may be sent; RateStoreError if the budget cannot be used."""
        now = self._clock()
        if not self._levels or self._spare and not self._waiters and now >= self._paused_until:
            self._starts.append(now)  # no limit, or a spare slot at hand: no wait, no step
            return self._spare.pop() if self._spare else NO_SLOT
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if self._live_waiters() == 1:  # else the pump already waits for a slot for the first
            self._pump = self._pump or asyncio.ensure_future(self._serve())
            self._wake.set()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result(), sent=False)  # granted, then given up: unused
            raise

    def release(self, ticket: str, *, sent: bool = True) -> None:
        """``ticket``'s answer (or error) arrived now; ``sent=False``: it never left, and its
        slot is free at once (a waiter may take it). Told with the next step."""
        if ticket != NO_SLOT:
            self._held -= 1
            self._answers.append((ticket, self._clock(), sent))
            if not sent and self._waiters:  # they have the pump
                self._wake.set()

    def give_up_waits(self) -> None:
        """Every request waiting for a slot gives up (the run stopped)."""
        for waiter in self._waiters:
            waiter.cancel()

    async def close(self) -> None:
        """Tells the store the answers still untold and that this run takes no more."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        try:
            if self._stepped:
                await asyncio.wait_for(self.store.step(self._ask(0, leave=True)), CLOSE_WITHIN)
        except asyncio.TimeoutError:
            raise RateStoreError(f"{self.store.description} was busy: this run's last "
                                 "answers were not told; its slots free when its lease "
                                 "ends") from None  # fmt: skip
        finally:
            await self.store.close()

    async def _serve(self) -> None:
        try:
            while self._waiters or self._answers or self._held > 0:
                self._wake.clear()
                if (pause := self._paused_until - self._clock()) > 0:
                    await self._nap(self._sleep(pause))
                    continue
                want = self._live_waiters()
                grant = await self.store.step(self._ask(want, more=SPARE if want else 0))
                self._stepped, now = True, self._clock()
                self._held, self._spare = self._held + len(grant.tokens), [*grant.tokens]
                while self._spare and self._live_waiters():  # first come, first served
                    self._waiters.popleft().set_result(self._spare.pop())
                    self._starts.append(now)
                self._recover(self._clock())
                if self._live_waiters():
                    await self._nap(self._sleep(min(grant.wait / 1000, WANT_RENEW)))
                elif self._held > 0:  # the lease is on the store's clock: real seconds
                    await self._nap(asyncio.sleep(RENEW))
        except Exception as exc:  # the store failed: every waiter hears it
            while self._live_waiters():
                self._waiters.popleft().set_exception(exc)
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
            await asyncio.gather(*naps, return_exceptions=True)

    def _live_waiters(self) -> int:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()  # cancelled while waiting
        return len(self._waiters)

    def _give_back(self) -> None:
        """The spare slots go back unsent with the next step, which decides again."""
        self._answers += ((token, self._clock(), False) for token in self._spare)
        self._held, self._spare = self._held - len(self._spare), []

    def _ask(self, want: int, *, more: int = 0, leave: bool = False) -> Ask:
        """The next step's question: every answer untold (ours, earlier runs'), spare back."""
        self._give_back()
        now, answers, history = self._clock(), self._answers, self._history
        self._answers, self._history = [], []
        told = [(t, int((now - at) * 1000), sent) for t, at, sent in answers]
        return Ask(want, self.caps(), told, [to_ms(now - t) for t in history], leave, more=more)

    def _recover(self, now: float) -> None:
        """A clean window gives back a tenth of a count up to what the server took (another
        client may use the rest); one more a window past it only ``PROBE_AFTER`` windows
        after the last 429: at most one request over what the server took."""
        for v in self._levels:
            count, window = v.spec.count, v.spec.window
            if v.allowed >= count or now - v.changed_at < window:
                continue
            if v.allowed < v.took:
                v.allowed, v.changed_at = min(v.took, v.allowed + max(1, count // 10)), now
            elif now - self._slowed_at >= PROBE_AFTER * window:
                v.allowed, v.took, v.changed_at = v.allowed + 1, v.took + 1, now

    def refusals(self) -> list[tuple[RateSpec, int, bool]]:
        """Per spec the server refused at: (spec, how many of ours it took in the spec's
        window then, whether it took the spec's full count in a window before the refusal)."""
        return [(v.spec, v.took, v.took_all) for v in self._levels if v.took < v.spec.count]

    def slow_down(self, pause: float, factor: float = 0.8, *, sent_at: float | None = None) -> None:
        """After a 429: no start for ``pause`` seconds, and every count times ``factor``.
        ``sent_at`` (when the refused request left) tells one burst's refusals apart: the
        first marks how many the server took, each later one lowers that mark by one (one
        more that did not fit) and the count stays at most the mark."""
        now = self._clock()
        self._paused_until = max(self._paused_until, now + pause)
        self._give_back()  # the lowered counts decide again
        if sent_at is not None and sent_at < self._slowed_at:
            for v in self._levels:
                v.took = max(0, v.took - 1)
                v.allowed = max(1, min(v.allowed, v.took))
            return
        self._slowed_at = now
        for v in self._levels:
            v.changed_at = self._paused_until  # recovery after the pause
            if sent_at is not None:  # what we started in the window: as many as were in flight
                window, count = v.spec.window, v.spec.count
                v.took_all = v.took_all or _most_in_window(self._starts, sent_at, window) >= count
                v.took = max(0, min(v.allowed, sum(t > now - window for t in self._starts)) - 1)
            v.allowed = max(1, math.floor(v.allowed * factor))
        if not self._levels:  # the last second's starts times factor
            recent = [t for t in self._starts if t > now - LEARNED_WINDOW]
            count = max(1, math.floor(len(recent) * factor))
            learned = RateSpec(count, LEARNED_WINDOW, f"{count}/s (learned from 429s)")
            self._levels = [_Level(learned, count, count, changed_at=now)]
            self.preload(now - t for t in recent[-count:])


@dataclass
class _Level:  # one spec as the limiter honours it: lowered by 429s, raised by clean windows
    spec: RateSpec
    allowed: int  # the count honoured now (the spec's at first)
    took: int  # the most of ours the server took in a window before a 429 (the count at first)
    changed_at: float = -math.inf  # when ``allowed`` was last lowered or raised
    took_all: bool = False  # the server took the spec's full count in a window once


def _most_in_window(starts: Iterable[float], before: float, window: float) -> int:
    """The most of ``starts`` (in order) before ``before`` in any ``window`` seconds."""
    times = [t for t in starts if t < before]
    counts = (i + 1 - bisect.bisect_right(times, t - window) for i, t in enumerate(times))
    return max(counts, default=0)
