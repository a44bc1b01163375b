"""The account's budget shared across machines: the ``SlotBook`` rules as one Redis script.

``run.rate_store: redis://HOST:PORT/DB`` (or ``$BULKOPS_RATE_STORE``), with
the ``redis`` extra installed (``pip install 'bulkops[redis]'``). Each step is
one call of ``slots.lua`` (the rules of ``slots.py`` in Lua, held equal by a
test): atomic however many processes on however many hosts call it, one round
trip however many slots it takes and answers it tells, and every time in it is
the Redis server's own clock (``TIME``), so hosts whose clocks disagree still
agree on the slots. The book is one key, ``bulkops:{<hash of host and
account>}:book``, which expires on its own once no run has touched it for a
while.

Any Redis error (unreachable, timeout, refused script) becomes a
``RateStoreError``: the run stops sending rather than fall back silently to a
budget nobody else sees. A Redis that refuses ``TIME`` in scripts (AWS
ElastiCache Serverless does) is refused the same way: the hosts' own clocks
would not agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from bulkops.errors import RateStoreError
from bulkops.jsoncodec import dumps
from bulkops.model import Target
from bulkops.ratelimit.budget import account_key, new_owner
from bulkops.ratelimit.slots import Cap, Grant, to_ms

TIMEOUT = 5.0  # seconds for Redis to connect or answer before the run stops
SCRIPT = resources.files("bulkops.ratelimit").joinpath("slots.lua").read_text(encoding="utf-8")


def describe_url(url: str) -> str:
    """The Redis URL without its user, password or options, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


class RedisStore:
    """A ``BudgetStore`` in Redis (``redis.asyncio``), shared by every host naming it.
    ``clock`` (seconds) replaces Redis's own, for tests only."""

    def __init__(
        self, url: str, target: Target, *, lease: float, clock: Callable[[], float] | None = None
    ) -> None:
        import redis.asyncio as aioredis  # only runs that use Redis pay for importing it

        self.description = f"the shared rate budget at {describe_url(url)}"
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        self.key = f"bulkops:{{{account_key(target)}}}:book"
        self.owner = new_owner()
        self._lease = to_ms(lease)
        self._clock = clock
        self._script = self._client.register_script(SCRIPT)

    async def step(
        self, want: int, caps: Sequence[Cap], answers: Sequence[tuple[str, int, bool]] = (),
        history: Sequence[int] = (), *, leave: bool = False,
    ) -> Grant:  # fmt: skip
        from redis.exceptions import RedisError

        ask = {"owner": self.owner, "want": want, "caps": [list(c) for c in caps],
               "lease": self._lease, "answers": [list(a) for a in answers],
               "history": list(history), "leave": leave}  # fmt: skip
        now = "" if self._clock is None else str(int(self._clock() * 1000))
        try:
            reply = await self._script(keys=[self.key], args=[now, dumps(ask)])
        except (RedisError, OSError) as exc:
            raise RateStoreError(self._failed(str(exc))) from exc
        tokens = tuple(t.decode() if isinstance(t, bytes) else str(t) for t in reply[1:])
        return Grant(tokens, int(reply[0]))

    async def close(self) -> None:
        await self._client.aclose()

    def _failed(self, problem: str) -> str:
        if "TIME refused" in problem or "non deterministic" in problem:
            problem = "it refuses TIME in scripts, and the hosts' own clocks would not agree"
        return (
            f"{self.description} cannot be used ({problem[:200]}): stopping, since sending "
            "without it could exceed the account's rate limit"
        )
