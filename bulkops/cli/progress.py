"""Progress while a run works: a live line on a terminal, a plain line every few seconds
elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence

from bulkops.cli.console import Console
from bulkops.model import OUTCOMES, RateSpec

REDRAW_EVERY = 0.2  # seconds between terminal redraws
PLAIN_EVERY = 5.0  # seconds between lines when stderr is not a terminal


class Progress:
    """Shows the run's outcome counts as they grow; never draws control characters off a
    terminal. ``counts`` is the run's own tally (shared, not copied)."""

    def __init__(
        self,
        console: Console,
        total: int,
        counts: Mapping[str, int],
        *,
        rates: Sequence[RateSpec] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._total = total
        self._counts = counts
        self._before = self._settled()  # outcomes counted before this run's work began
        self._clock = clock
        self._rates = rates
        self._live = console.is_tty and not console.json_lines and not console.quiet
        self._started = clock()
        self._last_draw = 0.0
        self._ticker: asyncio.Task[None] | None = None

    def start(self) -> None:
        if not self._console.quiet:
            self._ticker = asyncio.create_task(self._tick())

    def update(self) -> None:
        """An outcome was counted: redraw if a terminal shows us and it is time."""
        if self._live and self._clock() - self._last_draw >= REDRAW_EVERY:
            self._draw()

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._live:
            self._draw()
            self._console.stream.write("\n")
            self._console.transient = False

    def line(self) -> str:
        done = self._settled() - self._before
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = done / elapsed
        counts = "  ".join(f"{k} {self._counts[k]}" for k in OUTCOMES if self._counts[k])
        left = self._total - done
        seconds = eta_seconds(done, left, elapsed, self._rates)
        eta = f"ETA {_clock_text(seconds)}" if seconds is not None else ""
        bar = _bar(done, self._total) if self._live else ""
        parts = [bar, f"{done}/{self._total}", counts, f"{rate:.1f}/s", eta]
        return "  ".join(p for p in parts if p)

    def _settled(self) -> int:
        return sum(self._counts[k] for k in OUTCOMES)

    def _draw(self) -> None:
        self._last_draw = self._clock()
        self._console.show_transient(self.line())

    async def _tick(self) -> None:
        every = REDRAW_EVERY * 5 if self._live else PLAIN_EVERY
        while True:
            await asyncio.sleep(every)
            if self._live:
                self._draw()
            else:
                done = self._settled() - self._before
                self._console.info("progress", self.line(), done=done, total=self._total)


def eta_seconds(done: int, left: int, elapsed: float, rates: Sequence[RateSpec]) -> float | None:
    """Seconds until the last of ``left`` campaigns is done: the pace so far, but never less than
    the rate limits allow. At 60/min the 61st request waits for the next window: a run that did
    60 in its first second has most of a minute ahead, not none."""
    if left <= 0:
        return None
    by_pace = left / (done / elapsed) if done > 0 else 0.0
    last = done + left - 1  # the index of the last request, one a campaign, from this run's start
    by_window = max((last // spec.count * spec.window for spec in rates), default=0.0) - elapsed
    seconds = max(by_pace, by_window)
    return seconds if done > 0 or by_window > 0 else None


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = width if total == 0 else width * done // total
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def _clock_text(seconds: float) -> str:
    seconds = math.ceil(seconds)  # never 0:00:00 while something is left
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
