"""Response-anchored rate slots: no server ever counts N+1 of our requests in a window W.

Kore.ai counts requests where they arrive, per account, in rolling windows.
Pacing the *starts* (a sliding log, a leaky or token bucket) cannot promise
that: one request delayed on its way lands in the next request's window. So
each request holds one of N slots from the moment it is sent until W +
``margin`` after its answer or its error arrived; a request sent after that
arrives more than W after the one before it, whatever the delays. A spec
list holds a slot of each. The slots live in a ``BudgetStore`` (``budget``):
in this process, in a file every process on the machine shares, or in Redis.

On top of the store, per process: waiters are served first come, first
served; a 429 pauses every start (Retry-After) and lowers every count, which
recovers by a tenth each clean window; a run without any spec learns one
from its first 429.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bulkops.model import RateSpec
from bulkops.ratelimit.budget import BudgetStore, MemoryStore, by_sent
from bulkops.ratelimit.slots import Cap

LEARNED_WINDOW = 1.0  # seconds: the window of the limit learned from 429s when none is set
RECENT_STARTS = 4096  # starts remembered to learn that limit from
NO_SLOT = ""  # the ticket of a request under no limit
MAX_POLL = 0.25  # seconds a waiter sleeps at most: other processes' slots free unannounced
MIN_POLL = 1e-4  # seconds: never spin on a rounding error


class RollingWindowLimiter:
    """Grants slots so that no rate spec is ever exceeded at the server; FIFO among waiters.

    ``ticket = await limiter.acquire()`` returns when a request may be sent;
    ``limiter.release(ticket)`` when its answer or error arrived (always: the
    pool does it in ``finally``). ``slow_down()`` is the answer to a 429.
    """

    def __init__(
        self,
        specs: Sequence[RateSpec],
        *,
        margin: float = 0.0,
        store: BudgetStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._specs = tuple(specs)
        self._margin = margin  # added to each window after the answer
        self._clock = clock
        self._sleep = sleep
        self._store: BudgetStore = store or MemoryStore(clock=clock)
        # per spec: the count currently honoured (lowered after 429s)
        self._allowed = [s.count for s in self._specs]
        self._paused_until = 0.0  # no start before this clock time (Retry-After)
        self._slowed_at = -math.inf  # when the limits were last lowered
        self._changed_at = [-math.inf for _ in self._specs]  # per spec: last lowered or raised
        # without specs: recent start times, to learn a limit from when a 429 comes
        self._recent: deque[float] | None = None if self._specs else deque(maxlen=RECENT_STARTS)
        self._waiters: deque[asyncio.Future[str]] = deque()  # FIFO, served by the pump
        self._pump: asyncio.Task[None] | None = None
        self._flush: asyncio.Task[None] | None = None
        self._flush_checked = False  # a look at _releases is scheduled for the next loop turn
        # (ticket, sent, clock time of its answer) not yet told to the store
        self._releases: list[tuple[str, bool, float]] = []
        self._preload: tuple[float, list[float]] | None = None  # (clock time, seconds ago)
        self._next_free = 0.0  # no slot at once before this clock time (the store said so)

    @property
    def store(self) -> BudgetStore:
        return self._store

    def caps(self) -> list[Cap]:
        """(count honoured, window + margin) of every spec."""
        return [
            (a, s.window + self._margin) for s, a in zip(self._specs, self._allowed, strict=True)
        ]

    def preload(self, answered_ago: Iterable[float]) -> None:
        """Earlier requests (the audit log's), answered that many seconds ago: the server's
        windows still hold them. Given to the store before the first slot is taken."""
        self._preload = (self._clock(), list(answered_ago))

    def try_acquire(self) -> str | None:
        """The ticket when a request may go at once, without waiting or yielding to the
        event loop: no limit, or a store that answers at once has a slot. Else None."""
        if not self._specs:
            if self._recent is not None:
                self._recent.append(self._clock())
            return NO_SLOT
        now = self._clock()
        if self._preload is not None or now < max(self._paused_until, self._next_free):
            return None
        if self._waiters and self._live_waiters():
            return None  # first come, first served
        answers = self._answers()
        grant = self._store.take_now(1, self.caps(), answers)
        if grant is None:
            self._releases[:0] = [(t, sent, now - ago) for t, ago, sent in answers]  # not told
        if grant is None or not grant.tokens:
            self._next_free = now + (grant.wait if grant else math.inf)
            return None
        if self._slowed_at > -math.inf:
            self._recover(now)
        return grant.tokens[0]

    async def acquire(self) -> str:
        """Returns a ticket once a request may be sent; raises RateStoreError if the
        budget cannot be consulted."""
        if (ticket := self.try_acquire()) is not None:
            return ticket
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._serve())
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result(), sent=False)  # granted, then given up: unused
            raise

    def release(self, ticket: str, *, sent: bool = True) -> None:
        """The answer (or error) of ``ticket``'s request arrived now; ``sent=False``: the
        request never left. Told to the store in batches, a moment later, with its time."""
        if ticket == NO_SLOT:
            return
        self._releases.append((ticket, sent, self._clock()))
        if not self._flush_checked:
            self._flush_checked = True
            asyncio.get_running_loop().call_soon(self._flush_if_pending)

    async def close(self) -> None:
        """Tells the store every answer still pending and that this run takes no more."""
        if self._pump is not None:  # nobody waits any more (the run stopped): no more slots
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        if self._flush is not None:
            await asyncio.gather(self._flush, return_exceptions=True)
        await self._tell_releases()
        await self._store.close()

    # ------------------------------------------------------------------ the pump

    async def _serve(self) -> None:
        """Takes slots from the store for the waiters, oldest first, until none waits."""
        try:
            while self._live_waiters():
                now = self._clock()
                if self._paused_until > now:
                    await self._sleep(self._paused_until - now)
                    continue
                if self._preload is not None:
                    (then, ages), self._preload = self._preload, None
                    await self._store.preload([a + self._clock() - then for a in ages])
                grant = await self._store.take(self._live_waiters(), self.caps(), self._answers())
                self._hand_out(grant.tokens)
                if self._live_waiters():
                    await self._sleep(min(max(grant.wait, MIN_POLL), MAX_POLL))
        except Exception as exc:  # the store failed: every waiter hears it
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            self._waiters.clear()
        finally:
            self._pump = None

    def _live_waiters(self) -> int:
        """How many wait (one cancelled behind the first may be counted: its slot, if
        granted, is given back unused)."""
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()  # cancelled while waiting
        return len(self._waiters)

    def _hand_out(self, tokens: Iterable[str]) -> None:
        now = self._clock()
        for token in tokens:
            while self._waiters and self._waiters[0].done():
                self._waiters.popleft()
            if not self._waiters:
                self.release(token, sent=False)
                continue
            self._waiters.popleft().set_result(token)
            if self._slowed_at > -math.inf:
                self._recover(now)

    def _flush_if_pending(self) -> None:
        """Answers still untold a loop turn later are told in a task of their own. Usually
        the releasing worker's next take has told them already, and no task is needed."""
        self._flush_checked = False
        if self._releases and self._flush is None:
            self._flush = asyncio.ensure_future(self._flush_soon())

    async def _flush_soon(self) -> None:
        try:
            await self._tell_releases()
        except Exception:  # noqa: BLE001 - the next take meets the same failure and reports it
            pass
        finally:
            self._flush = None

    def _answers(self) -> list[tuple[str, float, bool]]:
        """The answers not yet told to the store, as (ticket, seconds ago, sent); forgotten
        here: the caller tells them."""
        releases, self._releases = self._releases, []
        now = self._clock()
        return [(t, now - at, sent) for t, sent, at in releases]

    async def _tell_releases(self) -> None:
        for sent, chosen in by_sent(self._answers()):
            await self._store.release(chosen, sent=sent)

    # ------------------------------------------------------------------ after a 429

    def _recover(self, now: float) -> None:
        for i, spec in enumerate(self._specs):
            if self._allowed[i] < spec.count and now - self._changed_at[i] >= spec.window:
                self._allowed[i] = min(spec.count, self._allowed[i] + max(1, spec.count // 10))
                self._changed_at[i] = now

    def slow_down(self, pause: float, factor: float = 0.8, *, sent_at: float | None = None) -> None:
        """After a 429: no start for ``pause`` seconds, and every limit times ``factor``.

        429s for requests sent before the last slow-down answer the same burst:
        they pause but do not lower the limits again.
        """
        now = self._clock()
        self._paused_until = max(self._paused_until, now + pause)
        if sent_at is not None and sent_at < self._slowed_at:
            return
        self._slowed_at = now
        # recovery counts from the end of the pause
        self._changed_at = [self._paused_until for _ in self._specs]
        self._allowed = [max(1, math.floor(a * factor)) for a in self._allowed]
        if self._recent is not None:
            self._learn_limit(now, factor)

    def _learn_limit(self, now: float, factor: float) -> None:
        """No spec was set: the starts of the last second, times ``factor``, become one,
        kept in this process (the server told us nothing about the account)."""
        assert self._recent is not None
        recent = [t for t in self._recent if t > now - LEARNED_WINDOW]
        count = max(1, math.floor(len(recent) * factor))
        self._specs = (RateSpec(count, LEARNED_WINDOW, f"{count}/s (learned from 429s)"),)
        self._allowed = [count]
        self._changed_at = [now]
        self._recent = None
        store = MemoryStore(clock=self._clock)
        store.add_answers([now - t for t in recent[-count:]])
        self._store = store
