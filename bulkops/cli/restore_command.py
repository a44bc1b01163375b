"""`bulkops restore`: the job and its flags → a RestoreRun → what came back, exit code.

The engine is imported when the command runs: `bulkops --help` stays light.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Mapping
from typing import Any

from bulkops.cli.console import Console, say
from bulkops.cli.run_observer import ConsoleObserver
from bulkops.cli.signals import GUARD, SignalGuard
from bulkops.model import Job, RestoreOutcome
from bulkops.text import printable_json

RESTORE_EPILOG = """examples:
  bulkops restore jobs/x.yaml --dry-run               the bodies it would send; nothing is sent
  bulkops restore jobs/x.yaml                         the latest real run's deletes, after a yes
  bulkops restore jobs/x.yaml --run RUN_ID --yes      another run's deletes
  bulkops restore jobs/x.yaml --campaigns-file old-ids.txt --yes

A restored campaign is a new campaign (a new id) with the old one's settings; its
history does not come back. Restoring again skips what was restored or exists.
exit codes: as `bulkops run`: 0 all done, 1 some failed, 2 bad usage/job (nothing
sent), 3 aborted, 129/130/143 interrupted (restore again to finish)
"""


def add_restore_parser(commands: Any, given: Any, add_log_options: Any) -> None:
    restore = commands.add_parser(
        "restore", help="create again the campaigns a job's audit log recorded deleted",
        epilog=RESTORE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    restore.add_argument("job", metavar="JOB.yaml", type=given)
    restore.add_argument(
        "--run", metavar="RUN_ID", type=given,
        help="restore the deletes of this run (default: the latest real run that deleted any)",
    )  # fmt: skip
    restore.add_argument(
        "--campaigns-file", metavar="PATH", type=given,
        help="restore only these old campaign ids ('-' for stdin), one a line",
    )  # fmt: skip
    restore.add_argument(
        "--dry-run", action="store_true", default=None,
        help="show each body it would send; send nothing",
    )  # fmt: skip
    restore.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (required without one)"
    )
    restore.add_argument("--audit-log", metavar="PATH", type=given, help="the job's audit log")
    restore.add_argument("--concurrency", type=int, metavar="N", help="requests in flight at most")
    restore.add_argument(
        "--rate", action="append", metavar="SPEC", type=given,
        help="rate limit like 60/min; repeat for several",
    )  # fmt: skip
    add_log_options(restore)


class RestoreConsole:
    """The person's side of a restore: what a run's console says and asks (the prompt says
    CREATE), and signals handed to the run while the Creates go out."""

    def __init__(self, console: Console, job: Job, *, assume_yes: bool, signals: SignalGuard):
        self._run = ConsoleObserver(
            console, job, assume_yes=assume_yes, signals=signals, verb="CREATE"
        )
        self._console = console
        self._signals = signals
        signals.say = self._say_interrupted
        self.info, self.warn, self.confirm = self._run.info, self._run.warn, self._run.confirm

    def work_started(self, todo: int, counts: Mapping[str, int]) -> None:
        self._signals.hand_to_loop()
        self._console.info("restore", f"creating {todo} campaigns", todo=todo)

    def settled(self, outcome: RestoreOutcome) -> None:
        if outcome.outcome == "failed":
            self._console.warn(
                "failed", f"{outcome.campaign_id}: {outcome.error}", campaign_id=outcome.campaign_id
            )

    async def work_ended(self) -> None:
        self._signals.take_back()

    def _say_interrupted(self, signum: int) -> None:
        name = signal.Signals(signum).name
        self._console.warn(
            "interrupted", f"interrupted ({name}): letting the Creates in flight finish",
            signal=name,
        )  # fmt: skip


def restore_command(args: argparse.Namespace, console: Console) -> int:
    from bulkops.cli.run_command import ids_given, refuse_unconfirmed, with_flags
    from bulkops.engine.restore_run import RestoreRun
    from bulkops.job import load_job

    job = load_job(args.job)
    job = with_flags(job, args)
    ids = (
        None if args.campaigns_file is None else ids_given(args.campaigns_file, job.run.max_deletes)
    )
    refuse_unconfirmed(job, args, "create campaigns")
    observer = RestoreConsole(console, job, assume_yes=args.yes, signals=GUARD)
    restore = RestoreRun(job, observer, run_id=args.run, ids=ids)
    GUARD.on_signal = restore.interrupt
    result = GUARD.run(restore.execute())
    if result.dry_run:
        for outcome in result.outcomes:
            if outcome.outcome == "would_restore":
                say(printable_json({"campaign_id": outcome.campaign_id, "body": outcome.body}))
    counts = ", ".join(f"{key} {value}" for key, value in result.counts.items())
    console.info(
        "restore_finished", f"{counts}; {result.requests} requests; restore log {result.log}"
        + (f"; {result.error}" if result.error else ""), exit_code=result.exit_code,
    )  # fmt: skip
    return result.exit_code
