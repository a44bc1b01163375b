"""A rolling-window limiter: at most N starts in ANY interval of length W.

Kore.ai counts requests in rolling windows (see shared/reference). A leaky
bucket such as ``aiolimiter.AsyncLimiter(N, W)`` admits up to about 2N in some
window and draws 429s, so this is a sliding log: the times of the last N starts
for each spec. A start is allowed when the N-th most recent start is older than
W + margin, for every spec at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bulkops.model import RateSpec

LEARNED_WINDOW = 1.0  # seconds: the window of the limit learned from 429s when none is set
RECENT_STARTS = 4096  # starts remembered to learn that limit from


class RollingWindowLimiter:
    """Admits starts so that no rate spec is ever exceeded; FIFO among waiters.

    ``await limiter.acquire()`` returns when a request may start and records
    the start. ``slow_down()`` is the answer to a 429: it pauses all starts and
    lowers every limit, because the server counts differently from us. Each
    full window without a slow-down gives a lowered limit back 10% of its
    count. Without any spec, the first 429 sets one: 80% of the starts of the
    last second.
    """

    def __init__(
        self,
        specs: Sequence[RateSpec],
        *,
        margin: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._specs = tuple(specs)
        self._margin = margin  # added to each window: the server sees our requests late
        self._clock = clock
        self._sleep = sleep
        # per spec: start times of the most recent `count` requests, oldest first
        self._starts = [deque[float](maxlen=s.count) for s in self._specs]
        # per spec: the count currently honoured (lowered after 429s)
        self._allowed = [s.count for s in self._specs]
        self._paused_until = 0.0  # no start before this clock time (Retry-After)
        self._slowed_at = -math.inf  # when the limits were last lowered
        self._changed_at = [-math.inf for _ in self._specs]  # per spec: last lowered or raised
        # without specs: recent start times, to learn a limit from when a 429 comes
        self._recent: deque[float] | None = None if self._specs else deque(maxlen=RECENT_STARTS)
        self._lock = asyncio.Lock()  # one waiter computes and sleeps at a time: FIFO
        self.waited = 0.0  # total seconds spent waiting, for reports

    def delay(self) -> float:
        """Seconds until the next start would be allowed (0 when now)."""
        now = self._clock()
        ready = self._paused_until
        for spec, starts, allowed in zip(self._specs, self._starts, self._allowed, strict=True):
            if len(starts) >= allowed:
                ready = max(ready, starts[-allowed] + spec.window + self._margin)
        return max(0.0, ready - now)

    def preload(self, starts: Iterable[float]) -> None:
        """Counts earlier starts (clock times, oldest first), e.g. the previous run's:
        the server's windows still hold them."""
        for start in starts:
            self._record(start)

    def try_acquire(self) -> bool:
        """Records a start and returns True if one is allowed now and nobody waits."""
        if self._lock.locked() or self.delay() > 0:
            return False
        self._record(self._clock())
        return True

    async def acquire(self) -> None:
        """Returns when a start is allowed, having recorded it."""
        async with self._lock:
            while (wait := self.delay()) > 0:
                self.waited += wait
                await self._sleep(wait)
            self._record(self._clock())

    def _record(self, now: float) -> None:
        for starts in self._starts:
            starts.append(now)
        if self._recent is not None:
            self._recent.append(now)
        if self._slowed_at > -math.inf:
            self._recover(now)

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
        assert self._recent is not None
        recent = [t for t in self._recent if t > now - LEARNED_WINDOW]
        count = max(1, math.floor(len(recent) * factor))
        spec = RateSpec(count, LEARNED_WINDOW, f"{count}/s (learned from 429s)")
        self._specs = (spec,)
        self._starts = [deque(recent[-count:], maxlen=count)]
        self._allowed = [count]
        self._changed_at = [now]
        self._recent = None
