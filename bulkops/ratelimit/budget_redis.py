"""The account's budget across machines: ``slots.lua`` in Redis (``run.rate_store:
redis://HOST:PORT/DB`` or ``$BULKOPS_RATE_STORE``; ``pip install 'bulkops[redis]'``).

One step is one script call: atomic, one round trip, on the Redis server's own clock
(``TIME``), so hosts whose clocks disagree agree on the slots. The book is one key,
``bulkops:{<account hash>}:book``, expiring once no run has touched it for a while. Any
Redis error, or a Redis refusing ``TIME`` in scripts (AWS ElastiCache Serverless), is a
``RateStoreError``: the run stops rather than use a budget nobody else sees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from bulkops.errors import RateStoreError
from bulkops.jsoncodec import dumps
from bulkops.model import Target
from bulkops.ratelimit.budget import account_key, new_owner
from bulkops.ratelimit.slots import Ask, Grant, to_ms

TIMEOUT = 5.0  # seconds for Redis to connect or answer before the run stops
SCRIPT = resources.files("bulkops.ratelimit").joinpath("slots.lua").read_text(encoding="utf-8")


def describe_url(url: str) -> str:
    """The Redis URL without its user, password or options, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


class RedisStore:
    """A ``BudgetStore`` in Redis, shared by every host naming it; ``clock`` (seconds)
    replaces Redis's own, for tests only."""

    def __init__(
        self, url: str, target: Target, *, lease: float, clock: Callable[[], float] | None = None
    ) -> None:
        import redis.asyncio as aioredis  # only runs that use Redis pay for importing it

        self.description = f"the shared rate budget at {describe_url(url)}"
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        self.key = f"bulkops:{{{account_key(target)}}}:book"
        self.owner, self._lease = new_owner(), to_ms(lease)
        self._clock = clock
        self._script = self._client.register_script(SCRIPT)

    async def step(self, ask: Ask) -> Grant:
        from redis.exceptions import RedisError

        ask = dataclasses.replace(ask, owner=self.owner, lease=self._lease)
        now = "" if self._clock is None else str(int(self._clock() * 1000))
        try:
            reply = await self._script(keys=[self.key], args=[now, dumps(dataclasses.asdict(ask))])
        except (RedisError, OSError) as exc:
            problem = str(exc)
            if "TIME refused" in problem or "non deterministic" in problem:
                problem = "it refuses TIME in scripts, and the hosts' own clocks would not agree"
            raise RateStoreError(
                f"{self.description} cannot be used ({problem[:200]}): stopping, since "
                "sending without it could exceed the account's rate limit"
            ) from exc
        return Grant(tuple(t.decode() for t in reply[1:]), int(reply[0]))

    async def close(self) -> None:
        await self._client.aclose()
