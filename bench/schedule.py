"""The ideal schedule under strict rolling windows, and how close measured arrivals came.

Pure functions: no I/O. A rolling limit ``N/W`` admits a request at ``t`` if
fewer than ``N`` were admitted in ``(t - W, t]``; the perfect client starts
each request at the earliest instant every window allows, beginning with a
full burst at ``t = 0``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Rate = tuple[int, float]  # (N, W seconds)

_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "hour": 3600.0, "h": 3600.0}
_RATE = re.compile(r"(\d+)/(\d*\.?\d*)\s*([a-z]+)")


def parse_rate(spec: str) -> Rate:
    """``"100/s"``, ``"400/10s"``, ``"60/min"`` -> (count, window seconds)."""
    m = _RATE.fullmatch(spec.strip().lower())
    if not m or m.group(3) not in _UNITS:
        raise ValueError(f"bad rate {spec!r}: expected N/W like 100/s or 400/10s")
    return int(m.group(1)), (float(m.group(2)) if m.group(2) else 1.0) * _UNITS[m.group(3)]


def ideal_starts(n: int, rates: Sequence[Rate]) -> list[float]:
    """Start times of ``n`` requests sent as early as every window allows."""
    starts: list[float] = []
    for i in range(n):
        t = starts[-1] if starts else 0.0
        for count, window in rates:
            if i >= count:
                t = max(t, starts[i - count] + window)
        starts.append(t)
    return starts


def ideal_duration(n: int, rates: Sequence[Rate]) -> float:
    """First start to last start of the perfect schedule (``floor((n-1)/N)*W`` for one window)."""
    return ideal_starts(n, rates)[-1] if n else 0.0
