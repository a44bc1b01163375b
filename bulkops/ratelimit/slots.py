"""The slot book: one account's rate budget, as plain data and pure rules.

A request holds a slot of every rate spec from the moment it is granted until
``W + margin`` after its answer (or its error) arrived: the server saw it
between those two instants, so a new request sent after the slot frees
arrives more than ``W`` after it, whatever the network did. No arrival
pattern can put ``N + 1`` in a window (``tests/test_slots.py`` checks it
against random delays).

The book keeps the requests in flight (``held``: token -> owner, granted,
lease end) and the answer times of recent ones (``done``: [time, owner],
oldest first). A spec ``(count, span)`` with ``span = W + margin`` is full
while ``held + done answered after now - span`` reaches ``count``. Nothing
here reads a clock or a file: the stores pass ``now`` in (``budget_file``
keeps the book in a file, ``budget_redis`` does the same in a Lua script).

Fair share: a process that was granted fewer slots than it asked for is
*wanting*. While others want too, each may hold at most ``ceil(count / n)``
of a spec (``n`` the wanting processes, itself included), so concurrent runs
on one account converge on equal shares and none starves; a process alone
takes the whole budget.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Cap = tuple[int, float]  # (count, span = window + margin) of one rate spec
WANT_TTL = 2.0  # seconds a "wanting" mark lasts unless renewed (a waiter polls more often)
LEASE_SLACK = (
    10.0  # seconds past the request timeout before an unanswered slot is presumed answered
)
MAX_DONE = 200_000  # answer times kept at most, whatever the specs (bounds the state's size)
HISTORY = ""  # owner of answer times preloaded from an audit log: counted, nobody's share


@dataclass(frozen=True)
class Grant:
    """What one ``take`` gave: tokens (one a request) and, if short, seconds until it may
    be worth asking again (a lower bound: another process may take that slot first)."""

    tokens: tuple[str, ...]
    wait: float


@dataclass
class SlotBook:
    """One account's slots. Every method takes ``now`` (seconds, the store's clock)."""

    held: dict[str, list[Any]] = field(default_factory=dict)  # token -> [owner, granted, lease end]
    done: list[list[Any]] = field(default_factory=list)  # [answered, owner], oldest first
    wants: dict[str, float] = field(default_factory=dict)  # owner -> when it was last short
    keep: list[float] = field(default_factory=lambda: [0, 0.0])  # largest count, span seen

    # ------------------------------------------------------------------ the rules

    def take(
        self, now: float, owner: str, want: int, caps: Sequence[Cap], tokens: Iterable[str],
        lease: float,
    ) -> Grant:  # fmt: skip
        """Grants up to ``want`` of ``tokens`` to ``owner`` under every cap, fairly."""
        self._remember(caps)
        others = sum(1 for o, t in self.wants.items() if o != owner and t > now - WANT_TTL)
        held_mine = sum(1 for entry in self.held.values() if entry[0] == owner)
        limits = []  # per cap: (room, its answer times) for the total and for the fair share
        for count, span in caps:
            mine, everyone = self._occupied(now, span, owner)
            limits.append((count - len(everyone) - len(self.held), everyone, span))
            if others:
                share = math.ceil(count / (others + 1))
                limits.append((share - len(mine) - held_mine, mine, span))
        grant = max(0, min([want, *(room for room, _, _ in limits)]))
        given = list(itertools.islice(tokens, grant))
        for token in given:
            self.held[token] = [owner, now, now + lease]
        if len(given) < want:
            self.wants[owner] = now
        else:
            self.wants.pop(owner, None)
        # when one more could be granted: enough answers must leave their spans
        waits = [_until_drops(times, len(given) + 1 - room, span, now)
                 for room, times, span in limits if room <= len(given)]  # fmt: skip
        return Grant(tuple(given), max(waits, default=0.0) if len(given) < want else 0.0)

    def release(
        self, now: float, answers: Iterable[tuple[str, float]], *, sent: bool = True
    ) -> None:
        """The answers (or errors) of (token, seconds ago) arrived; ``sent=False``: the
        requests were never sent."""
        for token, ago in answers:
            entry = self.held.pop(token, None)
            if entry is not None and sent:
                self._answered(max(now - max(ago, 0.0), entry[1]), entry[0])

    def forget_owner(self, owner: str) -> None:
        """``owner`` leaves: it wants nothing more (its slots stay until they free)."""
        self.wants.pop(owner, None)

    def preload(self, answered: Iterable[float], now: float) -> int:
        """Adds answer times of earlier requests (an audit log's) that the book may not know,
        without counting one request twice: rank by rank, the later of the two times."""
        theirs = sorted((t for t in answered if t <= now), reverse=True)
        ours = sorted(range(len(self.done)), key=lambda i: self.done[i][0], reverse=True)
        added = 0
        for rank, t in enumerate(theirs):
            if rank < len(ours):
                entry = self.done[ours[rank]]
                if t > entry[0]:
                    entry[0], entry[1] = t, HISTORY
            else:
                self.done.append([t, HISTORY])
                added += 1
        self.done.sort(key=lambda e: float(e[0]))
        return added

    def settle(self, now: float, alive: Callable[[str], bool] = lambda owner: True) -> None:
        """Slots of requests that outlived their lease, or whose process died, count as
        answered (at the lease's end, or now); old answers and marks are dropped."""
        for token, (owner, _granted, lease_end) in list(self.held.items()):
            if lease_end < now:
                del self.held[token]
                self._answered(lease_end, owner)
            elif not alive(owner):
                del self.held[token]
                self._answered(now, owner)
        self.wants = {o: t for o, t in self.wants.items() if t > now - WANT_TTL and alive(o)}
        count, span = int(self.keep[0]), float(self.keep[1])
        if not count:
            return  # no spec seen yet (only preloaded times): nothing is known to be old
        first = bisect.bisect_right(self.done, now - span, key=lambda e: float(e[0]))
        first = max(first, len(self.done) - count, len(self.done) - MAX_DONE)
        if first > 0:
            del self.done[:first]

    def clamp(self, now: float, lease: float) -> int:
        """Times beyond what is possible (the clock was set back) are pulled back to now;
        returns how many were. Slots then stay taken a full window from now: the safe side."""
        fixed = 0
        for entry in reversed(self.done):  # oldest first: only the tail can be in the future
            if entry[0] <= now:
                break
            entry[0], fixed = now, fixed + 1
        for entry in self.held.values():
            if entry[1] > now or entry[2] > now + lease:
                entry[1], entry[2], fixed = min(entry[1], now), now + lease, fixed + 1
        if any(t > now for t in self.wants.values()):
            self.wants = {o: min(t, now) for o, t in self.wants.items()}
        return fixed

    # ------------------------------------------------------------------ helpers

    def _remember(self, caps: Sequence[Cap]) -> None:
        for count, span in caps:
            self.keep = [max(self.keep[0], count), max(self.keep[1], span)]

    def _occupied(self, now: float, span: float, owner: str) -> tuple[list[float], list[float]]:
        """Answer times still inside ``span``: (owner's, everyone's), oldest first."""
        start = bisect.bisect_right(self.done, now - span, key=lambda e: float(e[0]))
        recent = self.done[start:]
        return [e[0] for e in recent if e[1] == owner], [e[0] for e in recent]

    def _answered(self, when: float, owner: str) -> None:
        if not self.done or when >= self.done[-1][0]:
            self.done.append([when, owner])
        else:
            bisect.insort(self.done, [when, owner], key=lambda e: float(e[0]))

    # ------------------------------------------------------------------ as JSON

    def to_doc(self) -> dict[str, Any]:
        return {"held": self.held, "done": self.done, "wants": self.wants, "keep": self.keep}

    @classmethod
    def from_doc(cls, doc: Any) -> SlotBook:
        """A book from stored JSON; ValueError if it is not one (the store says what to do)."""
        try:
            held_times = {
                str(t): (str(e[0]), float(e[1]), float(e[2])) for t, e in doc["held"].items()
            }
            done_times = [(float(e[0]), str(e[1])) for e in doc["done"]]
            wants = {str(o): float(t) for o, t in doc["wants"].items()}
            keep: list[float] = [int(doc["keep"][0]), float(doc["keep"][1])]
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ValueError(f"not a slot book: {exc!r}"[:200]) from None
        times = [t for t, _ in done_times] + [t for e in held_times.values() for t in e[1:]]
        if not all(math.isfinite(v) for v in [*times, *wants.values(), keep[1]]):
            raise ValueError("not a slot book: a time that is not a number")
        held: dict[str, list[Any]] = {t: list(e) for t, e in held_times.items()}
        done: list[list[Any]] = sorted(([t, o] for t, o in done_times), key=lambda e: float(e[0]))
        return cls(held, done, wants, keep)


def _until_drops(times: list[float], drops: int, span: float, now: float) -> float:
    """Seconds until ``drops`` of ``times`` (oldest first) leave the span; when answers of
    requests still in flight are needed too, at least one span from now."""
    if drops <= len(times):
        return max(0.0, times[drops - 1] + span - now)
    return span
