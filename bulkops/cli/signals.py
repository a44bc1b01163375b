"""SIGHUP, SIGINT and SIGTERM for `bulkops run`, `list` and `restore`, from the moment
the process starts.

Installed before anything else is done, so no signal ever takes the default
action (dying without a word, or Python's KeyboardInterrupt wherever it lands).

- Before a run has started (loading the job, listing a selection, at the
  confirmation prompt) the handler passes the signal to ``on_signal``, which
  raises ``Interrupted``: nothing was deleted, the CLI writes the summary and
  metrics files and exits 129/130/143. While the command's event loop runs
  (``SignalGuard.run``), it is raised where the command takes it: in the
  command's own task, or else from the loop (see ``_python_handler``).
- While the campaigns are worked on, the event loop calls ``handle`` (see
  ``hand_to_loop``): the run stops dispatching, requests in
  flight settle, ``run_finished`` is written, and the exit code is the signal's.
- A second signal, at any time, leaves at once: every audit line already
  written is whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

from bulkops.errors import Interrupted
from bulkops.model import EXIT_BY_SIGNAL, exit_code_for

INTERRUPTED_EARLY = "interrupted before anything was deleted"
T = TypeVar("T")


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
        self._main: asyncio.Task[Any] | None = None  # the command's task, while ``run`` runs it

    def install(self) -> None:
        """Python-level handlers (again, after the event loop's were removed)."""
        for signum in EXIT_BY_SIGNAL:
            signal.signal(signum, self._python_handler)

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """``asyncio.run(main)``, for a command: its task is known to ``_python_handler``."""
        return asyncio.run(self._as_main(main))

    async def _as_main(self, main: Coroutine[Any, Any, T]) -> T:
        self._main = asyncio.current_task()
        try:
            return await main
        finally:
            self._main = None

    def hand_to_loop(self) -> None:
        """While the campaigns are worked on, the running loop takes each signal to ``handle``
        between callbacks, never in the middle of a console line."""
        loop = asyncio.get_running_loop()
        for signum in EXIT_BY_SIGNAL:
            loop.add_signal_handler(signum, self.handle, signum)

    def take_back(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in EXIT_BY_SIGNAL:
            loop.remove_signal_handler(signum)
        self.install()  # removing the loop's left the default action

    def _python_handler(self, signum: int, frame: FrameType | None) -> None:
        main = self._main
        loop = main.get_loop() if main else None
        if not loop or self.received is not None or asyncio.current_task(loop) is main:
            self.handle(signum)  # no loop, a second signal, or the command's own code (the
            return  # prompt, which never yields): raised here, the command takes it
        # It landed in another task (a request's writer) or in the loop itself, where an
        # Interrupted is taken by nobody and asyncio prints its traceback. From a callback it
        # leaves the loop, and asyncio.run cancels the command's task and raises it.
        self.received = signum
        loop.call_soon_threadsafe(self._first, signum)

    def handle(self, signum: int) -> None:
        if self.received is not None:
            with contextlib.suppress(Exception):  # nothing may stop the quitting
                self.say_quit(signum)
            os._exit(EXIT_BY_SIGNAL.get(signal.Signals(signum), 130))
        self.received = signum
        self._first(signum)

    def _first(self, signum: int) -> None:
        self.on_signal(signum)  # raises Interrupted when no run has started
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            self.say(signum)


def _leave(signum: int) -> None:
    raise Interrupted(signum)


GUARD = SignalGuard()  # one per process: signals are process-wide
