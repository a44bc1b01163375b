"""The progress line: counts, rate and ETA on an injected clock; no control characters off a
terminal."""

from __future__ import annotations

import io

from bulkops.cli.console import Console
from bulkops.cli.progress import REDRAW_EVERY, Progress
from bulkops.model import zero_counts


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Parts = tuple[Progress, dict[str, int], FakeClock]


def progress(stream: io.StringIO, total: int, **console: bool) -> Parts:
    counts, clock = zero_counts(), FakeClock()
    return Progress(Console(stream, **console), total, counts, clock=clock), counts, clock


def test_line_shows_done_of_total_each_outcome_rate_and_eta() -> None:
    bar, counts, clock = progress(io.StringIO(), total=10)
    counts["skipped"] = 5  # skipped by resume: not work this run did
    counts.update(deleted=3, failed=1)
    clock.now += 2
    assert bar.line() == "4/10  deleted 3  failed 1  2.0/s  ETA 0:00:03"


def test_eta_counts_hours_and_goes_once_everything_is_done() -> None:
    bar, counts, clock = progress(io.StringIO(), total=100_000)
    counts["not_found"] = 1
    clock.now += 1
    assert bar.line() == "1/100000  not_found 1  1.0/s  ETA 27:46:39"
    counts["not_found"] = 100_000
    assert "ETA" not in bar.line()


def test_before_the_first_outcome_there_is_no_rate_to_estimate_from() -> None:
    bar, _, clock = progress(io.StringIO(), total=10)
    assert bar.line() == "0/10  0.0/s"
    clock.now += 30
    assert bar.line() == "0/10  0.0/s"


def test_a_terminal_gets_a_bar_redrawn_in_place_at_most_every_redraw_interval() -> None:
    out = Terminal()
    bar, counts, clock = progress(out, total=8)
    counts["deleted"] = 2
    clock.now += 1
    bar.update()
    counts["deleted"] = 3
    clock.now += REDRAW_EVERY / 2
    bar.update()  # too soon: not drawn
    assert (
        out.getvalue() == "\r\x1b[2K[######------------------]  2/8  deleted 2  2.0/s  ETA 0:00:03"
    )
    clock.now += REDRAW_EVERY
    bar.update()
    assert out.getvalue().count("\r\x1b[2K") == 2 and "3/8" in out.getvalue()


async def test_the_last_line_stays_on_a_terminal_when_progress_stops() -> None:
    out = Terminal()
    bar, counts, clock = progress(out, total=4)
    counts["deleted"] = 4
    clock.now += 2
    await bar.stop()
    assert out.getvalue().endswith("[########################]  4/4  deleted 4  2.0/s\n")
    assert out.getvalue().count("\n") == 1


async def test_no_control_characters_when_stderr_is_not_a_terminal() -> None:
    for stream, console in ((io.StringIO(), {}), (Terminal(), {"json_lines": True}),
                            (Terminal(), {"quiet": True})):  # fmt: skip
        bar, counts, clock = progress(stream, 5, **console)
        for _ in range(5):
            counts["deleted"] += 1
            clock.now += 1
            bar.update()
        await bar.stop()
        assert stream.getvalue() == "", console
        assert bar.line() == "5/5  deleted 5  1.0/s", console  # no bar either
