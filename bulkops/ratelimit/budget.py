"""Where an account's rate budget lives: the ``BudgetStore`` interface and its stores.

- ``MemoryStore``: this process alone (tests, and a limit learned from 429s).
- ``FileStore`` (``budget_file``): every bulkops process on this machine, one
  file a ``host`` + ``account_id`` under ``$XDG_STATE_HOME/bulkops/``.
- ``RedisStore`` (``budget_redis``): every process on every machine naming
  the same Redis (``run.rate_store: redis://...``).

All three keep a ``SlotBook`` (``slots``) and apply the same rules; each
reads its own clock, so callers deal in durations only.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from bulkops.model import RunSettings, Target
from bulkops.ratelimit.slots import LEASE_SLACK, Cap, Grant, SlotBook

Answers = Sequence[tuple[str, float, bool]]  # (token, answered that many seconds ago, sent)


def account_key(target: Target) -> str:
    """What names one account's budget in every store: its host and account id, hashed."""
    return hashlib.sha256(f"{target.host}\n{target.account_id}".encode()).hexdigest()[:24]


def by_sent(answers: Answers) -> Iterator[tuple[bool, list[tuple[str, float]]]]:
    """``answers`` as (sent, [(token, seconds ago), ...]) groups, empty groups left out:
    sent requests hold their slot a window more, unsent ones not."""
    for sent in (True, False):
        chosen = [(token, ago) for token, ago, was_sent in answers if was_sent is sent]
        if chosen:
            yield sent, chosen


def release_all(book: SlotBook, now: float, answers: Answers) -> None:
    """``answers`` into ``book``."""
    for sent, chosen in by_sent(answers):
        book.release(now, chosen, sent=sent)


class BudgetStore(Protocol):
    """One account's slots, shared as widely as the store reaches."""

    description: str  # for messages: where the budget is kept (never a password)

    async def take(self, want: int, caps: Sequence[Cap], answers: Answers = ()) -> Grant:
        """Up to ``want`` new slots under every cap (count, window + margin), after
        releasing ``answers`` (as ``release`` does) in the same step."""

    def take_now(self, want: int, caps: Sequence[Cap], answers: Answers = ()) -> Grant | None:
        """``take`` without awaiting, for stores that can (None, and nothing done: this one
        cannot)."""

    async def release(self, answers: Sequence[tuple[str, float]], *, sent: bool = True) -> None:
        """The answers of (token, that many seconds ago) arrived (``sent=False``: the
        requests were never sent)."""

    async def preload(self, answered_ago: Sequence[float]) -> int:
        """Requests answered that many seconds ago (an audit log's), unless already known."""

    async def close(self) -> None:
        """This process takes no more slots; its slots stay counted until they free."""


def new_owner() -> str:
    """This process's name in a shared book: pid, its start time (so a reused pid is
    not taken for it), then its host's tag and a random part."""
    return f"{os.getpid()}.{process_start(os.getpid()) or 0}.{_HOST_TAG}{secrets.token_hex(3)}"


# Which host an owner runs on (a container has a host name of its own): only owners of
# this host can be seen to have died; others' slots wait for their lease.
_HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), None if unknown;
    -1 for a zombie (killed, not yet reaped by its parent: gone all the same)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
        return -1 if fields[0] == b"Z" else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def owner_alive(owner: str) -> bool:
    """False only when the process that ``owner`` names is surely gone (this machine)."""
    try:
        pid_text, start_text, tail = owner.split(".")
        pid, start = int(pid_text), int(start_text)
    except ValueError:
        return True  # not one of ours: let its lease decide
    if not tail.startswith(_HOST_TAG):
        return True  # another host (or container): its pids are not ours to look up
    if pid == os.getpid():
        return True
    found = process_start(pid)
    if found is not None:
        return start in (0, found)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


FUTURE_SLACK = 2.0  # seconds a recorded time may lie ahead of our clock (its rounding, skew)


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
    """The budget of this process alone, on an injectable clock."""

    description = "this process"

    def __init__(self, *, lease: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._book = SlotBook()
        self._lease = lease
        self._clock = clock
        self._tokens = (f"t{n}" for n in itertools.count())

    async def take(self, want: int, caps: Sequence[Cap], answers: Answers = ()) -> Grant:
        return self.take_now(want, caps, answers)

    def take_now(self, want: int, caps: Sequence[Cap], answers: Answers = ()) -> Grant:
        now = self._clock()
        release_all(self._book, now, answers)
        self._book.settle(now)
        return self._book.take(now, "me", want, caps, self._tokens, self._lease)

    async def release(self, answers: Sequence[tuple[str, float]], *, sent: bool = True) -> None:
        self._book.release(self._clock(), answers, sent=sent)

    async def preload(self, answered_ago: Sequence[float]) -> int:
        return self.add_answers(answered_ago)

    def add_answers(self, answered_ago: Sequence[float]) -> int:
        now = self._clock()
        return self._book.preload([now - ago for ago in answered_ago], now)

    async def close(self) -> None:
        self._book.forget_owner("me")


def open_store(settings: RunSettings, target: Target) -> BudgetStore:
    """The store ``run.rate_store`` names (``local`` or ``redis://...``) for ``target``'s
    account. Nothing is contacted yet: the first ``take`` does."""
    if settings.rate_store.startswith(("redis://", "rediss://")):
        from bulkops.ratelimit.budget_redis import RedisStore

        return RedisStore(settings.rate_store, target, lease=lease_for(settings))
    from bulkops.ratelimit.budget_file import FileStore

    return FileStore.for_account(target, lease=lease_for(settings))
