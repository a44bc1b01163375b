"""Progress while a run works: a live line on a terminal, a plain line every few seconds
elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from bulkops.audit import OUTCOMES
from bulkops.console import Console

REDRAW_EVERY = 0.2  # seconds between terminal redraws
PLAIN_EVERY = 5.0  # seconds between lines when stderr is not a terminal


class Progress:
    """Counts outcomes and shows them; never draws control characters off a terminal."""

    def __init__(
        self, console: Console, total: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._console = console
        self._total = total
        self._clock = clock
        self._live = console.is_tty and not console.json_lines and not console.quiet
        self._counts = dict.fromkeys(OUTCOMES, 0)
        self._done = 0
        self._started = clock()
        self._last_draw = 0.0
        self._ticker: asyncio.Task[None] | None = None

    def start(self) -> None:
        if not self._console.quiet:
            self._ticker = asyncio.create_task(self._tick())

    def record(self, outcome: str) -> None:
        self._counts[outcome] += 1
        self._done += 1
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
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = self._done / elapsed
        counts = "  ".join(f"{k} {v}" for k, v in self._counts.items() if v)
        left = self._total - self._done
        eta = f"ETA {_clock_text(left / rate)}" if rate > 0 and left > 0 else ""
        bar = _bar(self._done, self._total) if self._live else ""
        parts = [bar, f"{self._done}/{self._total}", counts, f"{rate:.1f}/s", eta]
        return "  ".join(p for p in parts if p)

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
                self._console.info("progress", self.line(), done=self._done, total=self._total)


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = width if total == 0 else width * done // total
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def _clock_text(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
