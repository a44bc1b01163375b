"""Campaigns whose status changes while a run goes on, so a long run can be rehearsed.

Two ways, both recorded in the stats (``status_changes``: id, status before and
after, when on the sandbox's monotonic clock (the one ``arrivals`` and
``deleted_at`` use) and in UTC):

- ``POST /_sandbox/campaigns/{id}/status`` with ``{"status": "Active"}`` changes
  one campaign now;
- the ``flip_active`` setting (``--flip-active AFTER:N``, repeatable, or
  ``{"flip_active": [[AFTER, N]]}`` through ``/_sandbox/config``): N live
  campaigns that are not Active, picked at random (seeded), go Active AFTER
  seconds after the first campaign call that follows the setting. A change is
  made when the first campaign call at or after its time arrives, before that
  call is handled: no client can see the old status after the recorded time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Flip = tuple[float, int]  # (seconds after the first call, campaigns that go Active)
ACTIVE = "Active"


def parse_flip(spec: str) -> Flip:
    """``"AFTER:N"`` (``"1.5:3"``) -> (1.5, 3)."""
    after, sep, count = spec.partition(":")
    try:
        if not sep:
            raise ValueError
        return check_flip(float(after), int(count))
    except ValueError:
        raise ValueError(f"bad flip {spec[:40]!r}: expected AFTER_SECONDS:N like 30:5") from None


def check_flip(after: Any, count: Any) -> Flip:
    if isinstance(after, bool) or not isinstance(after, (int, float)) or not after >= 0:
        raise ValueError(f"flip delay must be a number of seconds >= 0, got {after!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"flip count must be a positive integer, got {count!r}")
    return float(after), count


def flips(value: Any) -> tuple[Flip, ...]:
    """The ``flip_active`` setting: "AFTER:N" strings or [AFTER, N] pairs, earliest first."""
    items: Iterable[Any] = [value] if isinstance(value, str) else (value or ())
    parsed = [parse_flip(i) if isinstance(i, str) else check_flip(*i) for i in items]
    return tuple(sorted(parsed))


class FlipClock:
    """Which scheduled flips are due; the clock starts at the first call it is asked about."""

    def __init__(self, schedule: Iterable[Flip] = ()) -> None:
        self._pending = sorted(schedule)
        self._origin: float | None = None

    def due(self, now: float) -> int:
        """How many campaigns go Active now (0 mostly); each flip is due once."""
        if not self._pending:
            return 0
        if self._origin is None:
            self._origin = now
        count = 0
        while self._pending and now - self._origin >= self._pending[0][0]:
            count += self._pending.pop(0)[1]
        return count
