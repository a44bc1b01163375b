"""The slot book: one account's rate budget as plain data and pure rules, which the
README's "Rate limits" states in words. A request holds a slot of every spec from its
grant until ``W + margin`` after its answer or error. Times are whole ms on the store's
clock, so ``slots.lua`` (the same rules, for Redis) grants the very same slots (a
Hypothesis test runs both)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

Cap = tuple[int, int]  # (count, span in ms = window + margin) of one rate spec
GRAINS = 200  # answer-time grains a window: at most 1/200 of a window lost to rounding
WANT_TTL = 2_000  # ms a "wanting" mark counts unless renewed
OWNER_TTL = 10_000  # ms a run stays alive without a step (the limiter steps every 3 s)
HISTORY = ""  # owner of answer times preloaded from an audit log: counted, nobody's share
_time = itemgetter(0)  # an entry of ``done``: its answer time


@dataclass(frozen=True)
class Grant:
    tokens: tuple[str, ...]  # one a request
    wait: int  # if short: ms until it may be worth asking again (another may take it first)


@dataclass(frozen=True)
class Ask:  # one step's question
    want: int
    caps: Sequence[Cap]
    answers: Sequence[tuple[str, int, bool]] = ()  # (token, ms ago, sent: else free at once)
    history: Sequence[int] = ()  # ms ago of earlier requests' answers (an audit log's)
    leave: bool = False  # the run takes no more: its mark and lease go
    owner: str = ""  # the store fills in ``owner`` and ``lease``
    lease: int = 0  # ms an unanswered slot stays in flight before it is presumed answered
    more: int = 0  # spare slots wanted beyond ``want``: see ``_take``


@dataclass
class SlotBook:
    # token -> [owner, granted, lease end] of a request in flight
    held: dict[str, list[Any]] = field(default_factory=dict)
    # [answered, owner, n], oldest first: an owner's answers in one grain of time (1/GRAINS
    # of the shortest window above GRAINS a window: the book stays small however high the limit)
    done: list[list[Any]] = field(default_factory=list)
    # owner -> [alive until (its lease, renewed by each step, after which its requests in
    # flight count as answered), wanting until (WANT_TTL after it was short), count, span, grain]
    owners: dict[str, list[int]] = field(default_factory=dict)
    seq: int = 0  # tokens are owner#seq

    def step(self, now: int, ask: Ask) -> Grant:
        """One transaction: the rules, in this order, are the whole of the budget."""
        wanted = self.owners.get(ask.owner, [0, 0])[1]
        count = max((c for c, _ in ask.caps), default=0)
        spans = [span for _, span in ask.caps]
        grain = max(1, min(spans) // GRAINS) if count > GRAINS else 1
        self.owners[ask.owner] = [now + OWNER_TTL, wanted, count, max(spans, default=0), grain]
        if ask.history:
            self._preload(now, ask.history)
        for token, ago, sent in ask.answers:
            entry = self.held.pop(token, None)
            if entry is not None and sent:
                self._answered(max(now + 1 - ago, entry[1]), entry[0])
        self._settle(now)
        if ask.leave:
            del self.owners[ask.owner]
            return Grant((), 0)
        return self._take(now, ask)

    def _take(self, now: int, ask: Ask) -> Grant:
        """Up to ``want`` slots within every spec's room and, while ``n`` owners want (short
        within WANT_TTL, grants or not), within this owner's share ``ceil(count / n)``: runs
        converge. While no other owner wants, up to ``more`` spare ones besides, if every spec
        allows over GRAINS and keeps half free: a fast run steps rarely, a tight limit never."""
        others = sum(1 for o, e in self.owners.items() if o != ask.owner and e[1] > now)
        held_mine = others and sum(1 for e in self.held.values() if e[0] == ask.owner)
        limits = []  # (room, [(time, owner, n) of its answers in the span], span)
        for count, span in ask.caps:
            recent = [e for e in self.done if e[0] > now - span]
            limits.append((count - sum(e[2] for e in recent) - len(self.held), recent, span))
            if others:
                own = [e for e in recent if e[1] == ask.owner]
                share = -(-count // (others + 1))
                limits.append((share - sum(e[2] for e in own) - held_mine, own, span))
        grant = max(0, min([ask.want, *(room for room, _, _ in limits)]))
        if not others and all(c > GRAINS for c, _ in ask.caps):  # ``limits``: one a spec
            halves = (room - c // 2 for (room, _, _), (c, _) in zip(limits, ask.caps, strict=True))
            grant = max(grant, min([ask.want + ask.more, *halves]))
        tokens = [f"{ask.owner}#{self.seq + i}" for i in range(1, grant + 1)]
        self.seq += grant
        self.held.update((token, [ask.owner, now, now + ask.lease]) for token in tokens)
        if (short := grant < ask.want) or not ask.want:  # short: wanting until WANT_TTL later
            self.owners[ask.owner][1] = now + WANT_TTL if short else 0
        waits = [max(0, recent[0][0] + span - now) if recent else span  # till the oldest leaves
                 for room, recent, span in limits if short and room <= grant]  # fmt: skip
        return Grant(tuple(tokens), max(waits, default=0))

    def _settle(self, now: int) -> None:
        """Runs whose lease lapsed are gone; slots that outlived their lease count as
        answered at its end, those of runs gone now; answers no live run's spec needs go.
        Times past now (the clock was set back) are pulled back: slots stay taken longer."""
        self.owners = {o: [min(e[0], now + OWNER_TTL), min(e[1], now + WANT_TTL), *e[2:]]
                       for o, e in self.owners.items() if e[0] >= now}  # fmt: skip
        gone = sorted((min(e[2], now + 1), e[0], token) for token, e in self.held.items()
                      if e[2] < now or e[0] not in self.owners)  # fmt: skip
        for when, owner, token in gone:
            del self.held[token]
            self._answered(when, owner)
        keep_span = max((e[3] for e in self.owners.values()), default=0)
        self.done = [e for e in self.done if e[0] > now - keep_span]
        ahead = now + max((e[4] for e in self.owners.values()), default=1)  # a grain, rounded up
        for entry in self.done:
            entry[0] = min(entry[0], ahead)
        extra = sum(e[2] for e in self.done) - max((e[2] for e in self.owners.values()), default=0)
        while extra > 0:  # only the newest ``count`` answers can matter to any spec
            drop = min(extra, self.done[0][2])
            extra, self.done[0][2] = extra - drop, self.done[0][2] - drop
            if not self.done[0][2]:
                del self.done[0]

    def _answered(self, when: int, owner: str) -> None:
        """One more answer at ``when``, rounded up to its grain, after equal times."""
        grain = min((e[4] for e in self.owners.values()), default=1)
        when = -(-when // grain) * grain
        i = bisect.bisect_right(self.done, when, key=_time)
        for entry in self.done[bisect.bisect_left(self.done, when, key=_time) : i]:
            if entry[1] == owner:
                entry[2] += 1
                return
        self.done.insert(i, [when, owner, 1])

    def _preload(self, now: int, ages: Sequence[int]) -> None:
        """Earlier requests' answers that the book may not know, without counting one
        request twice: rank by rank (newest first), the later of the two times."""
        theirs = sorted((now - a for a in ages if a >= 0), reverse=True)
        ours = [(e[0], e[1]) for e in reversed(self.done) for _ in range(e[2])]
        merged = [ours[r] if r < len(ours) and ours[r][0] >= t else (t, HISTORY)
                  for r, t in enumerate(theirs)] + ours[len(theirs) :]  # fmt: skip
        self.done = []
        for when, owner in sorted(merged):
            self._answered(when, owner)

    @classmethod
    def from_doc(cls, doc: Any) -> SlotBook:
        """A book from stored JSON; ValueError if it is not one (the store says what to do)."""
        try:
            held = {str(t): [str(o), _ms(g), _ms(e)] for t, (o, g, e) in doc["held"].items()}
            done = [[_ms(t), str(o), _ms(n, 1)] for t, o, n in doc["done"]]
            owners = {str(o): [_ms(a), _ms(w), _ms(c), _ms(s), _ms(g, 1)]
                      for o, (a, w, c, s, g) in doc["owners"].items()}  # fmt: skip
            return cls(held, sorted(done, key=_time), owners, _ms(doc["seq"]))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ValueError(f"not a slot book: {exc!r}"[:200]) from None


def _ms(value: Any, least: int = -(1 << 62)) -> int:
    """A whole number from JSON (a float, a string or a bool is not one)."""
    if type(value) is not int or not least <= value <= 1 << 62:
        raise ValueError(f"not a whole number from {least}: {str(value)[:20]}")
    return int(value)


def to_ms(seconds: float) -> int:
    """A duration for the book: whole ms, rounded up (a slot is never held shorter)."""
    return math.ceil(seconds * 1000 - 1e-6)
