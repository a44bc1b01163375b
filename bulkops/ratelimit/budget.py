"""Where an account's budget lives: ``MemoryStore`` (this process), ``FileStore``
(``budget_file``: this machine) or ``RedisStore`` (``budget_redis``: every machine naming
one Redis). Each keeps a ``SlotBook`` on its own clock; one ``step`` is one transaction
(one locked write, one Redis round trip), however many slots and answers it carries."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from bulkops.model import RunSettings, Target
from bulkops.ratelimit.slots import Ask, Grant, SlotBook, to_ms

LEASE_SLACK = 10.0  # seconds past the timeout before an unanswered slot is presumed answered
FUTURE_SLACK = 2.0  # seconds a recorded time may lie ahead of our clock (its rounding, skew)


class BudgetStore(Protocol):
    description: str  # for messages: where the budget is kept (never a password)

    async def step(self, ask: Ask) -> Grant: ...  # as this run: its owner name and lease

    async def close(self) -> None: ...


def account_key(target: Target) -> str:
    """What names one account's budget in every store: its host and account id, hashed."""
    return hashlib.sha256(f"{target.host}\n{target.account_id}".encode()).hexdigest()[:24]


def new_owner() -> str:
    """A run's name in a shared book: random, since its liveness is a lease in the store,
    not a pid or a host name (containers share both)."""
    return secrets.token_hex(6)


def answer_ages(answered: Sequence[float], now: float) -> tuple[list[float], list[float]]:
    """Recorded answer times (wall clock) as (seconds ago, for the budget; seconds ahead of
    ``now`` of those in the future, which are ignored)."""
    ages = [max(0.0, now - t) for t in answered if t <= now + FUTURE_SLACK]
    ahead = [t - now for t in answered if t > now + FUTURE_SLACK]
    return ages, ahead


class MemoryStore:
    """The budget of this process alone, on an injectable clock (seconds)."""

    description = "this process"

    def __init__(self, *, lease: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.book = SlotBook()
        self.owner, self._lease = new_owner(), to_ms(lease)
        self._clock = clock

    async def step(self, ask: Ask) -> Grant:
        ask = dataclasses.replace(ask, owner=self.owner, lease=self._lease)
        return self.book.step(int(self._clock() * 1000), ask)

    async def close(self) -> None:
        pass


def open_store(settings: RunSettings, target: Target) -> BudgetStore:
    """The store ``run.rate_store`` names (``local`` or ``redis://...``) for ``target``'s
    account. Nothing is contacted yet: the first ``step`` does."""
    lease = settings.timeout + LEASE_SLACK
    if settings.rate_store.startswith(("redis://", "rediss://")):
        from bulkops.ratelimit.budget_redis import RedisStore

        return RedisStore(settings.rate_store, target, lease=lease)
    from bulkops.ratelimit.budget_file import FileStore

    return FileStore.for_account(target, lease=lease)
