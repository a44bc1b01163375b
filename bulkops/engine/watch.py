"""Fresh statuses: no protection decision rests on a status older than ``run.status_max_age``.

A long run (5,000 campaigns at Kore.ai's 60/min take about 1 h 25 min) must
not delete a campaign that went Active after its status was read. Before each
DELETE the run's ``StatusWatch`` decides from what it last saw: the campaign
is protected (it ends ``protected``, no request), it is to be stopped first,
or it may be deleted. When what it saw is older than ``status_max_age`` it
looks again first: one look for every campaign still to be sent, the list
call filtered to the guarded statuses (usually one page) or a GET each where
that is fewer, each a request through the pool, under the rate budget. A
DELETE that waited for its rate slot past that age is checked again before it
is sent (``stale``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bulkops.engine.guards import Request, known_outcome, protects, status_of
from bulkops.model import Outcome, RunSettings

Items = dict[str, dict[str, Any]]  # id -> the campaign as last listed or fetched
Look = Callable[[Sequence[str]], Awaitable[Items]]  # the items of these ids in guarded statuses
Stop = Callable[[str, Request], Awaitable[None]]  # the Stop call (guards.stop_call)


class StatusWatch:
    """What a real run last saw of its campaigns' statuses, and when (``seen_at``: the
    monotonic time the look that saw them began)."""

    def __init__(
        self,
        run: RunSettings,
        ids: Sequence[str],
        items: Items,
        *,
        seen_at: float,
        look: Look,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run
        self._open = dict.fromkeys(ids)  # ids not settled yet: what a look asks about
        self._items = items
        self._looked = dict(items)  # as listed or fetched: a Stop done later does not change it
        self._seen_at = seen_at
        self._look = look
        self._say = say
        self._clock = clock
        self._lock = asyncio.Lock()
        self.looks = 0

    def stale(self) -> bool:
        """Whether what was seen is now older than ``run.status_max_age``."""
        return self._clock() - self._seen_at > self._run.status_max_age

    async def decide(self, campaign_id: str, request: Request, stop: Stop | None) -> Outcome | None:
        """Called right before the campaign's DELETE: ``protected`` if what was seen (fresh)
        protects it; else None, after the Stop call where ``stop_before_delete`` asks for one."""
        await self._refresh()
        item = self._items.get(campaign_id)
        if campaign_id in self._items and protects(item, self._run.protect_status):
            return known_outcome(campaign_id, item, self._run.protect_status)
        if stop is not None and status_of(item) == "Active":
            await stop(campaign_id, request)
            self._items[campaign_id] = {**(item or {}), "status": "Stopped"}
        return None

    def last_seen(self, campaign_id: str) -> dict[str, Any] | None:
        """The campaign as the latest look saw it (None when that look did not list it)."""
        return self._looked.get(campaign_id)

    def settled(self, campaign_id: str) -> None:
        """The campaign has its outcome: later looks need not ask about it."""
        self._open.pop(campaign_id, None)

    async def _refresh(self) -> None:
        async with self._lock:  # one look at a time; the others wait for it and use it
            if not self.stale():
                return
            began = self._clock()
            self._items = await self._look(list(self._open))
            self._looked = dict(self._items)
            self._seen_at = began
            self.looks += 1
            self._say(
                f"statuses looked at again ({len(self._open):,} campaigns to go; "
                f"run.status_max_age is {self._run.status_max_age:g}s)"
            )
