"""Where an account's rate budget lives: the ``BudgetStore`` interface and its stores.

- ``MemoryStore``: this process alone (tests, and a limit learned from 429s).
- ``FileStore`` (``budget_file``): every bulkops process on this machine, one
  file a ``host`` + ``account_id`` under ``$XDG_STATE_HOME/bulkops/``.
- ``RedisStore`` (``budget_redis``): every process on every machine naming
  the same Redis (``run.rate_store: redis://...``).

All three keep a ``SlotBook`` (``slots``; Redis runs the same rules in Lua) and
read their own clock, so callers deal in durations only. One ``step`` is one
transaction (one locked write, one Redis round trip), however many slots it
takes and answers it tells.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from bulkops.model import RunSettings, Target
from bulkops.ratelimit.slots import Ask, Cap, Grant, SlotBook, to_ms

LEASE_SLACK = (
    10.0  # seconds past the request timeout before an unanswered slot is presumed answered
)
FUTURE_SLACK = 2.0  # seconds a recorded time may lie ahead of our clock (its rounding, skew)


class BudgetStore(Protocol):
    """One account's slots, shared as widely as the store reaches."""

    description: str  # for messages: where the budget is kept (never a password)

    async def step(
        self, want: int, caps: Sequence[Cap], answers: Sequence[tuple[str, int, bool]] = (),
        history: Sequence[int] = (), *, leave: bool = False,
    ) -> Grant:  # fmt: skip
        """One transaction of ``SlotBook.step`` for this process (see ``slots.Ask``)."""

    async def close(self) -> None:
        """Lets go of the file or connection."""


def account_key(target: Target) -> str:
    """What names one account's budget in every store: its host and account id, hashed."""
    return hashlib.sha256(f"{target.host}\n{target.account_id}".encode()).hexdigest()[:24]


def new_owner() -> str:
    """This run's name in a shared book: random, since its liveness is a lease in the
    store, not a pid or a host name (containers share both)."""
    return secrets.token_hex(6)


def answer_ages(answered: Sequence[float], now: float) -> tuple[list[float], list[float]]:
    """Recorded answer times (wall clock) as (seconds ago, for the budget; seconds ahead of
    ``now`` of those in the future, which are ignored)."""
    ages = [max(0.0, now - t) for t in answered if t <= now + FUTURE_SLACK]
    ahead = [t - now for t in answered if t > now + FUTURE_SLACK]
    return ages, ahead


def lease_for(settings: RunSettings) -> float:
    """How long an unanswered slot stays in flight before it is presumed answered."""
    return settings.timeout + LEASE_SLACK


class MemoryStore:
    """The budget of this process alone, on an injectable clock (seconds)."""

    description = "this process"

    def __init__(self, *, lease: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.book = SlotBook()
        self.owner = new_owner()
        self._lease = to_ms(lease)
        self._clock = clock

    async def step(
        self, want: int, caps: Sequence[Cap], answers: Sequence[tuple[str, int, bool]] = (),
        history: Sequence[int] = (), *, leave: bool = False,
    ) -> Grant:  # fmt: skip
        ask = Ask(self.owner, want, caps, self._lease, answers, history, leave)
        return self.book.step(int(self._clock() * 1000), ask)

    async def close(self) -> None:
        pass


def open_store(settings: RunSettings, target: Target) -> BudgetStore:
    """The store ``run.rate_store`` names (``local`` or ``redis://...``) for ``target``'s
    account. Nothing is contacted yet: the first ``step`` does."""
    if settings.rate_store.startswith(("redis://", "rediss://")):
        from bulkops.ratelimit.budget_redis import RedisStore

        return RedisStore(settings.rate_store, target, lease=lease_for(settings))
    from bulkops.ratelimit.budget_file import FileStore

    return FileStore.for_account(target, lease=lease_for(settings))
