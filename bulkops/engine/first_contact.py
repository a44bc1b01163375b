"""Until the target has answered once, requests go one at a time; a few that cannot reach it abort.

A wrong host, a port where nothing listens, https to a plain port or a
certificate the machine does not trust fail every request the same way.
Without this, each of them would be tried ``max_attempts`` times per
campaign, and the run would end "failed" without saying what is wrong.
So the first requests go out one at a time, a short pause between failed
ones; ``tries`` of them that cannot reach the target (``errors.Unreachable``)
abort the run with ``TargetUnreachable``. Once a connection is made (an
answer of any status, or a timeout or a dropped connection after it was
made), requests go out freely and this costs nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bulkops.errors import ApiError, TargetUnreachable, Unreachable

T = TypeVar("T")
TRIES = 3  # requests that cannot reach the target before the run aborts


class FirstContact:
    def __init__(
        self,
        *,
        pause: float,
        sleep: Callable[[float], Awaitable[None]],
        tries: int = TRIES,
    ) -> None:
        self.reached = False  # the target answered once: the gate is open for good
        self.unreachable: TargetUnreachable | None = None  # set once the run gave up on it
        self._pause = pause  # seconds after the first failed try, doubled after each next one
        self._sleep = sleep  # the pool's: raises when the run stops
        self._tries = tries
        self._failures = 0
        self._busy = False  # a request is out alone
        # set when that request settles; a new one for each turn. Everyone waiting
        # wakes in the same loop iteration: a lock would release them one by one,
        # and the workers would stay staggered for the whole run.
        self._turn = asyncio.Event()

    async def send(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` now if the target has answered before, else alone behind the gate.

        ``call`` is the whole of one try: its admission by the limiter included, so
        that a request admitted is a request sent at once.
        """
        while not self.reached:
            if self.unreachable is not None:
                raise self.unreachable
            if not self._busy:
                self._busy = True
                try:
                    return await self._alone(call)
                finally:
                    self._busy = False
                    turn, self._turn = self._turn, asyncio.Event()
                    turn.set()
            await self._turn.wait()
        return await call()

    async def _alone(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await call()
        except Unreachable as exc:
            await self._failed(exc)
            raise
        except ApiError:  # an answer, or a connection that was made: the target is there
            self.reached = True
            raise
        self.reached = True
        return result

    async def _failed(self, exc: Unreachable) -> None:
        self._failures += 1
        if self._failures >= self._tries:
            self.unreachable = TargetUnreachable(
                f"{exc.explanation} ({self._failures} tries, none answered): check "
                "target.host (and HTTPS_PROXY, HTTP_PROXY, NO_PROXY if a proxy is needed)",
                field="target.host",
            )
            raise self.unreachable from exc
        await self._sleep(self._pause * 2 ** (self._failures - 1))  # still alone: others wait
