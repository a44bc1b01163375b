"""Response-anchored rate slots: no server ever counts N+1 of our requests in a window W.

Kore.ai counts requests where they arrive, per account, in rolling windows.
Pacing the *starts* cannot promise that: one request delayed on its way lands
in the next request's window. So each request holds one of N slots from the
moment it is sent until W + ``margin`` after its answer or its error arrived
(``slots``). The slots live in a ``BudgetStore`` (``budget``): in this
process, in a file every process on the machine shares, or in Redis.

On top of the store, per process: one task (the pump) asks the store for as
many slots as there are waiters, in one step that also tells every answer
since the last; it sleeps until a waiter comes, an unsent slot is given back,
or the store's "next free slot" timer fires. Waiters are served first come,
first served. A 429 pauses every start (Retry-After) and lowers every count,
which recovers by a tenth each clean window; a run without any spec learns
one from its first 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bulkops.errors import RateStoreError
from bulkops.model import RateSpec
from bulkops.ratelimit.budget import BudgetStore, MemoryStore
from bulkops.ratelimit.slots import WANT_TTL, Cap, to_ms

LEARNED_WINDOW = 1.0  # seconds: the window of the limit learned from 429s when none is set
RECENT_STARTS = 4096  # starts remembered to learn that limit from
NO_SLOT = ""  # the ticket of a request under no limit
RENEW = 3.0  # seconds between steps that keep a run's lease alive while it holds slots
WANT_RENEW = WANT_TTL / 2000  # seconds between steps that keep a waiting run "wanting"
CLOSE_WITHIN = 0.5  # seconds the last step may take (a signal must end the run at once)


class SlotLimiter:
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
        self._allowed = [s.count for s in self._specs]  # per spec: the count honoured now
        self._paused_until = 0.0  # no start before this clock time (Retry-After)
        self._slowed_at = -math.inf  # when the limits were last lowered
        self._changed_at = [-math.inf for _ in self._specs]  # per spec: last lowered or raised
        # without specs: recent start times, to learn a limit from when a 429 comes
        self._recent: deque[float] | None = None if self._specs else deque(maxlen=RECENT_STARTS)
        self._waiters: deque[asyncio.Future[str]] = deque()  # FIFO
        self._pump: asyncio.Task[None] | None = None  # the one task that talks to the store
        self._wake = asyncio.Event()  # a waiter came or a slot was given back unsent
        self._answers: list[tuple[str, float, bool]] = []  # (ticket, clock time, sent) untold
        self._history: list[float] = []  # ms ago of earlier answers, untold (preload)
        self._history_at = 0.0  # the clock time those ages were counted from
        self._held = 0  # tickets out: while any, the store hears from us every RENEW s
        self._stepped = False  # the store has heard from this run (it must hear it leave)

    @property
    def store(self) -> BudgetStore:
        return self._store

    def caps(self) -> list[Cap]:
        """(count honoured, window + margin in ms) of every spec."""
        return [
            (a, to_ms(s.window + self._margin))
            for s, a in zip(self._specs, self._allowed, strict=True)
        ]

    def preload(self, answered_ago: Iterable[float]) -> None:
        """Earlier requests (the audit log's), answered that many seconds ago: the server's
        windows still hold them. Told to the store with the first step."""
        self._history, self._history_at = list(answered_ago), self._clock()

    async def acquire(self) -> str:
        """Returns a ticket once a request may be sent; raises RateStoreError if the
        budget cannot be consulted."""
        if not self._specs:
            if self._recent is not None:
                self._recent.append(self._clock())
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
        """The answer (or error) of ``ticket``'s request arrived now; ``sent=False``: the
        request never left, and its slot is free at once."""
        if ticket == NO_SLOT:
            return
        self._held -= 1
        self._answers.append((ticket, self._clock(), sent))
        if not sent or not self._waiters:
            self._start_pump()  # told with the next step: now, or when the pump wakes

    async def close(self) -> None:
        """Tells the store every answer still pending and that this run takes no more."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        try:
            if self._stepped:
                leave = self._store.step(0, self.caps(), self._untold(), (), leave=True)
                await asyncio.wait_for(leave, CLOSE_WITHIN)
        except asyncio.TimeoutError:
            raise RateStoreError(
                f"{self._store.description} was busy: this run's last answers were not told; "
                "its slots free when their leases end"
            ) from None
        finally:
            await self._store.close()

    # ------------------------------------------------------------------ the pump

    def _start_pump(self) -> None:
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._serve())
        else:
            self._wake.set()

    async def _serve(self) -> None:
        """Steps the store for the waiters, oldest first, until nobody waits and no slot
        is out; between steps it sleeps until woken or until a slot may be free."""
        try:
            while True:
                self._wake.clear()
                now = self._clock()
                if self._paused_until > now:
                    await self._nap(self._sleep(self._paused_until - now))
                    continue
                want = self._live_waiters()
                history, self._history = self._history, []
                ago = [to_ms(a + now - self._history_at) for a in history]
                grant = await self._store.step(want, self.caps(), self._untold(), ago)
                self._stepped = True
                self._hand_out(grant.tokens)
                if self._live_waiters():
                    await self._nap(self._sleep(min(grant.wait / 1000, WANT_RENEW)))
                elif self._held > 0:  # the lease is on the store's clock: real seconds
                    await self._nap(asyncio.sleep(RENEW))
                elif not self._answers:
                    return
        except Exception as exc:  # the store failed: every waiter hears it
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            self._waiters.clear()
        finally:
            self._pump = None

    async def _nap(self, sleep: Awaitable[object]) -> None:
        """Awaits ``sleep``, or less if woken."""
        nap = asyncio.ensure_future(sleep)
        if self._wake.is_set():
            nap.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await nap
            return
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((nap, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (nap, woken):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(nap, woken, return_exceptions=True)

    def _live_waiters(self) -> int:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()  # cancelled while waiting
        return len(self._waiters)

    def _hand_out(self, tokens: Iterable[str]) -> None:
        now = self._clock()
        for token in tokens:
            self._held += 1
            if not self._live_waiters():
                self.release(token, sent=False)
                continue
            self._waiters.popleft().set_result(token)
            if self._slowed_at > -math.inf:
                self._recover(now)

    def _untold(self) -> list[tuple[str, int, bool]]:
        """The answers not yet told to the store, as (ticket, ms ago, sent); forgotten
        here: the caller tells them."""
        answers, self._answers = self._answers, []
        now = self._clock()
        return [(t, int((now - at) * 1000), sent) for t, at, sent in answers]

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
        self._changed_at = [self._paused_until for _ in self._specs]  # recovery after the pause
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
        self.preload(now - t for t in recent[-count:])
