"""Time for the rate-limit tests: a window check, and clocks that never sleep for real."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Sequence


def assert_no_window_overfull(arrivals: Sequence[float], count: int, window: float) -> None:
    """At most ``count`` arrivals in any interval [t, t + window) (the sandbox's rule)."""
    times = sorted(arrivals)
    for i in range(count, len(times)):
        assert times[i] - times[i - count] >= window - 1e-9, (
            count,
            window,
            times[i - count : i + 1],
        )


class VirtualTime:
    """A clock that jumps to the next sleeper's deadline once every task is blocked."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), self._seq, future))
        await future

    async def run(self, work: asyncio.Future[object]) -> None:
        while not work.done():
            for _ in range(30):  # let everything that can run, run
                await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled sleeps
            if self._sleepers and not work.done():
                deadline, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, deadline)
                future.set_result(None)
