"""How a run ends: one owner, that every part of the run reports into.

The pool (a stop, an answer that aborts, a halt), the first-contact gate (a
target never reached), the recorder (an audit log that cannot be written), the
job run (a signal) and the monitoring files (one that cannot be written) all
report here, and nowhere else. The first error told is the one the run ends
with, except that a log that cannot be written overrides it (nothing more was
sent because of it). The exit code is computed from this one value, once the
work is over and before ``run_finished`` or any monitoring file is written, so
that the audit log, the summary JSON, the metrics and the process all say the
same number.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass

from bulkops.errors import EXIT_ABORTED, EXIT_USAGE
from bulkops.model import exit_code_for
from bulkops.text import plural

# Why a run stopped; when several apply the first listed wins.
STOP_PRIORITY = ("interrupted", "aborted", "halted")


@dataclass(frozen=True)
class RunEnd:
    """How one run ended, as facts: the CLI writes the words."""

    reason: str  # completed, interrupted, aborted or halted
    signum: int | None = None  # the signal of an interrupted run
    error: str | None = None  # why it stopped early (or what it could not write down)
    field: str | None = None  # the job field to check, when the error's own words name none
    campaign_id: str | None = None  # the campaign whose request met the error


class RunEnding:
    """Collects how the run is ending; ``stopped`` is set once dispatching must stop."""

    def __init__(self) -> None:
        self.stopped = asyncio.Event()
        self._reasons: set[str] = set()
        self._signum: int | None = None
        self._error: RunEnd | None = None  # the error, the field and the campaign id told first
        self._unwritten: str | None = None  # what the run was asked to write down and could not
        self._halt: str | None = None  # the halt_after_failures limit reached, in words
        self._refused = False  # a guard refused the run before it sent anything that deletes
        self._on_stop: list[Callable[[], None]] = []

    def when_stopped(self, callback: Callable[[], None]) -> None:
        """``callback()`` at every stop, right away: what waits for the run can give up."""
        self._on_stop.append(callback)

    def stop(self, reason: str) -> None:
        """Stop dispatching; in-flight requests settle. ``reason`` is one of STOP_PRIORITY."""
        self._reasons.add(reason)
        self.stopped.set()
        for callback in self._on_stop:
            callback()

    def interrupt(self, signum: int) -> None:
        self._signum = signum
        self.stop("interrupted")

    def halt(self, limit: int, failed: int, in_flight: int) -> None:
        """``halt_after_failures`` (``limit``) is reached at ``failed`` failed campaigns, with
        ``in_flight`` more still settling (their failures count too)."""
        if self._halt is None:
            self._halt = (
                f"halt_after_failures ({limit}) reached at {failed} failed campaigns; "
                f"{plural(in_flight, 'request')} still in flight settled "
                "(a failure among them counts too)"
            )
        self.stop("halted")

    def abort(
        self, error: str, *, field: str | None = None, campaign_id: str | None = None
    ) -> None:
        """The run must stop because of ``error``; the first error told is kept."""
        if self._error is None:
            self._error = RunEnd("aborted", error=error, field=field, campaign_id=campaign_id)
        self.stop("aborted")

    def refuse(self, error: str) -> None:
        """The run must not start deleting (``run.max_deletes``): it ends aborted, exit 2 as a
        refused run does, with its lines in the audit log like any other run."""
        self._refused = True
        self.abort(error)

    def log_failed(self, error: str) -> None:
        """The audit log cannot be written: nothing more is sent, and this is why."""
        self._error = RunEnd("aborted", error=f"{error}; nothing more was sent")
        self.stop("aborted")

    def unwritten(self, error: str) -> None:
        """A file the run was asked to write (summary, metrics, plan) could not be: the run's
        record is incomplete, which its exit code says (3), whatever the reason."""
        self._unwritten = self._unwritten or error

    @property
    def reason(self) -> str:
        return next((r for r in STOP_PRIORITY if r in self._reasons), "completed")

    def end(self) -> RunEnd:
        told = self._error or RunEnd("completed")
        error = told.error or self._unwritten
        return RunEnd(self.reason, self._signum, error, told.field, told.campaign_id)

    def words(self) -> str | None:
        """What stopped the run, in words (``run_finished.error``); None when it completed."""
        end = self.end()
        if end.reason == "interrupted" and end.signum is not None:
            name = signal.Signals(end.signum).name
            said = f"interrupted by {name}: requests in flight settled; rerun to resume"
            return said if end.error is None else f"{said}; {end.error}"
        if end.reason == "halted" and end.error is None:
            return self._halt
        if end.error is not None and end.field is not None:
            return f"{end.error} (check {end.field})"
        return end.error

    def exit_code(self, failed: int) -> int:
        code = exit_code_for(self.reason, failed, self._signum)
        if self._refused and self.reason == "aborted":
            code = EXIT_USAGE
        return EXIT_ABORTED if self._unwritten is not None and code in (0, 1) else code
