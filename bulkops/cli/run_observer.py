"""The person's side of a run: console lines, the prompt, live progress and signals."""

from __future__ import annotations

import select
import signal
import sys
from collections.abc import Mapping
from typing import Any

from bulkops.cli.console import Console
from bulkops.cli.progress import Progress
from bulkops.cli.signals import SignalGuard
from bulkops.model import Job, Outcome
from bulkops.text import plural


class ConsoleObserver:
    """A ``RunObserver`` that talks to a person (or a log shipper) through ``Console``.

    While the campaigns are worked on, the event loop hands SIGHUP/SIGINT/SIGTERM
    to ``signals`` (the run stops dispatching and lets requests in flight settle;
    a second signal leaves at once); before and after, its own handlers do.
    """

    def __init__(
        self,
        console: Console,
        job: Job,
        *,
        assume_yes: bool,
        signals: SignalGuard,
        verb: str = "DELETE",  # what the prompt says the run is about to do
    ) -> None:
        self._verb = verb
        self._where = "from" if verb == "DELETE" else "on"
        self._console = console
        self._job = job
        self._assume_yes = assume_yes
        self._progress: Progress | None = None
        self._signals = signals
        signals.say = self._say_interrupted
        signals.say_quit = self._say_quit

    def info(self, event: str, message: str, **fields: Any) -> None:
        self._console.info(event, message, **fields)

    def warn(self, event: str, message: str, **fields: Any) -> None:
        self._console.warn(event, message, **fields)

    def confirm(self, count: int) -> bool:
        if self._assume_yes:
            return True
        t = self._job.target
        sys.stderr.write(
            f"About to {self._verb} {plural(count, 'campaign')} {self._where} {t.host} "
            f"(app {t.app_id}, account {t.account_id}).\nType 'yes' to continue: "
        )
        sys.stderr.flush()
        return answer().strip().lower() == "yes"

    def work_started(self, todo: int, counts: Mapping[str, int]) -> None:
        self._signals.hand_to_loop()
        self._progress = Progress(self._console, todo, counts, rates=self._job.run.rates)
        self._progress.start()

    def settled(self, outcome: Outcome) -> None:
        if self._progress is not None:
            self._progress.update()

    async def work_ended(self) -> None:
        self._signals.take_back()
        if self._progress is not None:
            await self._progress.stop()

    def _say_quit(self, signum: int) -> None:
        name = signal.Signals(signum).name
        self._console.error(
            "interrupted", f"quitting at once ({name} again): requests in flight were not "
            "waited for; the audit log's sent lines name them, and a rerun resumes and checks "
            "them", signal=name,
        )  # fmt: skip

    def _say_interrupted(self, signum: int) -> None:
        name = signal.Signals(signum).name
        again = "press Ctrl-C again" if signum == signal.SIGINT else f"a second {name}"
        self._console.warn(
            "interrupted", f"interrupted ({name}): letting requests in flight finish "
            f"({again} quits at once)", signal=name,
        )  # fmt: skip


def answer() -> str:
    """The person's line from stdin. Python runs a signal's handler only between bytecodes,
    so a signal that came just as the read began, the read then blocked in the kernel, would
    wait for a second one: short selects let it run within a tenth of a second."""
    while not select.select([sys.stdin], [], [], 0.1)[0]:
        pass
    return sys.stdin.readline()
