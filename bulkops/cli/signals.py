"""SIGHUP, SIGINT and SIGTERM for `bulkops run`, from the moment the process starts.

Installed before anything else is done, so no signal ever takes the default
action (dying without a word, or Python's KeyboardInterrupt wherever it lands).

- Before a run has started (loading the job, listing a selection, at the
  confirmation prompt) the handler passes the signal to ``on_signal``, which
  raises ``Interrupted``: nothing was deleted, the CLI writes the summary and
  metrics files and exits 129/130/143.
- While the campaigns are worked on, the event loop calls ``handle`` (see
  ``ConsoleObserver.work_started``): the run stops dispatching, requests in
  flight settle, ``run_finished`` is written, and the exit code is the signal's.
- A second signal, at any time, leaves at once: every audit line already
  written is whole.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from types import FrameType

from bulkops.errors import Interrupted
from bulkops.model import EXIT_BY_SIGNAL, exit_code_for

INTERRUPTED_EARLY = "interrupted before anything was deleted"


def interrupted_exit_code(exc: KeyboardInterrupt) -> int:
    """The 129/130/143 for a signal that ended the process before a run started
    (a plain KeyboardInterrupt is a SIGINT)."""
    return exit_code_for("interrupted", 0, exc.signum if isinstance(exc, Interrupted) else None)


class SignalGuard:
    def __init__(self) -> None:
        self.received: int | None = None  # the first signal, once one came
        # what a first signal does: raise Interrupted (before a run) or stop the run
        self.on_signal: Callable[[int], None] = _leave
        self.say: Callable[[int], None] = lambda signum: None  # tells the person
        self.say_quit: Callable[[int], None] = lambda signum: None  # the closing line, at once

    def install(self) -> None:
        """Python-level handlers (again, after the event loop's were removed)."""
        for signum in EXIT_BY_SIGNAL:
            signal.signal(signum, self._python_handler)

    def _python_handler(self, signum: int, frame: FrameType | None) -> None:
        self.handle(signum)

    def handle(self, signum: int) -> None:
        if self.received is not None:
            with contextlib.suppress(Exception):  # nothing may stop the quitting
                self.say_quit(signum)
            os._exit(EXIT_BY_SIGNAL.get(signal.Signals(signum), 130))
        self.received = signum
        self.on_signal(signum)  # raises Interrupted when no run has started
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            self.say(signum)


def _leave(signum: int) -> None:
    raise Interrupted(signum)


GUARD = SignalGuard()  # one per process: signals are process-wide
