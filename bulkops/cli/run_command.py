"""`bulkops run`: the job with its flags → a JobRun → output, monitoring files, exit code."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bulkops.cli.abort_hint import abort_words
from bulkops.cli.console import Console, say
from bulkops.cli.preview_output import preview_text
from bulkops.cli.run_observer import ConsoleObserver
from bulkops.cli.signals import GUARD, INTERRUPTED_EARLY, interrupted_exit_code
from bulkops.engine.flows import flow_of, for_real
from bulkops.engine.job_run import JobRun, new_run_id
from bulkops.errors import (
    EXIT_ABORTED,
    EXIT_USAGE,
    BulkOpsError,
    JobError,
    LockedError,
)
from bulkops.job import load_job, parse_age, with_overrides
from bulkops.job.idfile import read_ids_file, read_ids_stream
from bulkops.model import Job, RunResult
from bulkops.records.files import check_output_path
from bulkops.records.history import read_history
from bulkops.records.plans import load_plan, write_plan
from bulkops.records.summary_files import write_metrics, write_summary_json
from bulkops.text import plural
from bulkops.utc import utc_now


def with_flags(job: Job, args: argparse.Namespace, campaign_ids: list[str] | None = None) -> Job:
    """``job`` with the flags ``run`` and ``restore`` share applied over it."""
    return with_overrides(
        job, dry_run=args.dry_run, concurrency=args.concurrency, rates=args.rate,
        audit_log=args.audit_log, campaign_ids=campaign_ids,
    )  # fmt: skip


def refuse_unconfirmed(job: Job, args: argparse.Namespace, doing: str) -> None:
    """A real run or restore asks on the terminal first; without one it needs ``--yes``."""
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if for_real(job) and not args.yes and not interactive:
        raise JobError(
            f"refusing to {doing} without a terminal to confirm on: pass --yes (or --dry-run)"
        )


def load(args: argparse.Namespace) -> Job:
    """The job file with the command line's overrides applied."""
    job = load_job(args.job)
    given = args.campaigns_file
    if args.retry_failed and (given is not None or args.plan):
        raise JobError("--retry-failed names the campaigns itself: drop --campaigns-file/--plan")
    job = with_flags(
        job, args, campaign_ids=None if given is None else ids_given(given, job.run.max_deletes)
    )
    if not args.retry_failed:
        return job
    target = job.target
    try:
        failed = read_history(job.audit_log, target.host, target.app_id).failed
    except OSError as exc:
        raise JobError(f"--retry-failed: cannot read {job.audit_log}: {exc.strerror}") from None
    return with_overrides(job, campaign_ids=list(failed))


def ids_given(source: str, max_ids: int) -> list[str]:
    """``--campaigns-file``: the ids of a file, or of stdin for ``-`` (at most ``max_ids``)."""
    if source == "-":
        stdin = sys.stdin
        if stdin is None:
            raise JobError("--campaigns-file -: stdin is closed; pipe the ids in")
        if stdin.isatty():
            raise JobError("--campaigns-file -: stdin is a terminal; pipe the ids in")
        try:
            return read_ids_stream(stdin.buffer, "--campaigns-file -", max_ids)
        except OSError as exc:
            raise JobError(f"--campaigns-file -: cannot read stdin: {exc.strerror}") from None
    return read_ids_file(Path(source), "--campaigns-file")


def run_command(args: argparse.Namespace, console: Console) -> int:
    try:
        job = load(args)
    except (JobError, KeyboardInterrupt) as exc:
        code = interrupted_exit_code(exc) if isinstance(exc, KeyboardInterrupt) else EXIT_USAGE
        refused = RunResult(
            new_run_id(), Path(args.job).stem, bool(args.dry_run), args.audit_log or "",
            started_at=utc_now(), finished_at=utc_now(), exit_code=code,
            reason="invalid" if code == EXIT_USAGE else "interrupted", error=str(exc),
        )  # fmt: skip
        Outputs(args, console).write(refused)
        raise
    for warning in job.warnings:
        console.warn("job", warning)
    if (args.campaigns_file is not None or args.retry_failed) and not job.campaign_ids:
        return _nothing_to_do(args, console, job)
    observer = ConsoleObserver(console, job, assume_yes=args.yes, signals=GUARD)
    outputs = Outputs(args, console, job)
    job_run = JobRun(job, observer, fresh=args.fresh, publish=outputs.write)
    GUARD.on_signal = job_run.interrupt
    try:
        job_run.plan_ids = _check_run_args(args, job)
        result = GUARD.run(job_run.execute())
    except LockedError:
        raise  # the summary and metrics files belong to the run that holds the lock
    except BulkOpsError as exc:
        refused = job_run.refused("refused", str(exc), EXIT_USAGE)
        Outputs(args, console).write(refused, quiet=isinstance(exc, JobError))
        raise
    except KeyboardInterrupt as exc:
        refused = job_run.refused("interrupted", INTERRUPTED_EARLY, interrupted_exit_code(exc))
        Outputs(args, console).write(refused)
        raise
    try:
        _show_result(args, console, job, result, outputs)
    except OSError as exc:  # a full device, or the terminal is gone (a hang-up)
        with contextlib.suppress(OSError):
            console.error("output", f"the output could not be written: {exc.strerror}")
        if result.exit_code in (0, 1):
            return EXIT_ABORTED  # the run happened, but what it printed is lost
    return result.exit_code  # the one the audit log and every file written say


class Outputs:
    """The files a run writes besides its audit log: summary JSON, metrics, the plan (given
    the ``job``, for a dry run that previewed).

    The run calls ``write`` once its exit code is known and before ``run_finished`` is
    written. A file that cannot be written is said once and reported back, and the run's
    exit code becomes 3; the run then calls ``write`` again, so that every file written
    (and ``run_finished``, and the process) says that one final code. A run refused
    before it started writes its summary and metrics through here too."""

    def __init__(self, args: argparse.Namespace, console: Console, job: Job | None = None) -> None:
        self._args = args
        self._console = console
        self._job = job
        self.failed: set[str] = set()  # not tried again, not said twice
        self.said: list[str] = []  # what could not be written, as the console said it
        self._quiet = False

    def write(self, result: RunResult, *, quiet: bool = False) -> str | None:
        """Writes what was asked for; what could not be written first, or None. ``quiet``:
        the refusal already named the file, so a failure is not said again."""
        args, first = self._args, None
        self._quiet = quiet
        if args.summary_json:
            first = self._attempt(args.summary_json, "", lambda p: write_summary_json(result, p))
        if args.metrics_file:
            first = first or self._attempt(
                args.metrics_file, "", lambda p: write_metrics(result, p)
            )
        ran = result.reason in ("completed", "interrupted", "halted")  # an aborted run: no plan
        if args.plan_out and (job := self._job) is not None and result.dry_run and ran:
            previews = list(result.previews)
            first = first or self._attempt(
                args.plan_out, "the plan ", lambda p: write_plan(p, job, previews)
            )
        return first

    def _attempt(self, path: str, what: str, write: Callable[[Path], None]) -> str | None:
        """Writes one file; what failed (said on the console once), or None."""
        if path in self.failed:
            return None
        try:
            if not what:  # a monitoring file: a link or a directory there is refused
                check_output_path(Path(path), "monitoring file")
            write(Path(path))
        except (OSError, JobError) as exc:
            reason = (exc.strerror if isinstance(exc, OSError) else str(exc)) or str(exc)
            if not self._quiet:
                self._console.error(
                    "plan" if what else "monitoring_file", f"could not write {what}{path}: {reason}"
                )
            self.failed.add(path)
            self.said.append(f"could not write {what}{path}: {reason}")
            return self.said[-1]
        return None


def _check_run_args(args: argparse.Namespace, job: Job) -> list[str] | None:
    """Usage checks that need the job; returns the plan's ids when --plan is given."""
    dry_run = not flow_of(job).deletes
    if args.plan_out and not dry_run:
        raise JobError("--plan-out needs --dry-run: a plan is made by previewing")
    if args.plan and dry_run:
        raise JobError("--plan runs a reviewed plan for real; drop --dry-run")
    if args.plan and args.campaigns_file is not None:
        raise JobError("--plan and --campaigns-file both name the campaigns: give one")
    for path, what in ((args.summary_json, "--summary-json"), (args.metrics_file, "--metrics-file"),
                       (args.plan_out, "--plan-out")):  # fmt: skip
        if path:
            check_output_path(Path(path), what)
    refuse_unconfirmed(job, args, "delete")
    if args.plan:
        return load_plan(Path(args.plan), job, max_age=_age(args.plan_max_age))
    return None


def _nothing_to_do(args: argparse.Namespace, console: Console, job: Job) -> int:
    """An empty --campaigns-file, or --retry-failed when nothing failed last time, is no
    error: there is nothing to do."""
    if args.retry_failed:
        source = f"--retry-failed: {job.audit_log}"
        none = "no campaign's latest outcome there is failed"
    else:
        source = (
            f"--campaigns-file {'stdin' if args.campaigns_file == '-' else args.campaigns_file}"
        )
        none = "it holds no campaign ids"
    why = "every id is in exclude" if job.removed_by_exclude else none
    console.result("nothing_to_do", f"nothing to do: {source}: {why}; nothing was sent",
                   exit_code=0)  # fmt: skip
    now = utc_now()
    finished = RunResult(
        new_run_id(), job.name, not flow_of(job).deletes, str(job.audit_log),
        started_at=now, finished_at=now,
    )  # fmt: skip
    outputs = Outputs(args, console)
    if outputs.write(finished) is None:
        return 0
    # one exit code everywhere: the files that could be written say 3 too
    outputs.write(dataclasses.replace(finished, exit_code=EXIT_ABORTED, error=outputs.said[0]))
    return EXIT_ABORTED


def _show_result(
    args: argparse.Namespace, console: Console, job: Job, summary: RunResult, outputs: Outputs
) -> None:
    """Prints the result: the preview, the plan written, the summary line, the error."""
    if summary.dry_run and summary.reason != "aborted":  # an aborted run previewed nothing
        if text := preview_text(args.output, job, summary):
            say(text)
        if args.plan_out and args.plan_out not in outputs.failed:
            console.result(
                "plan", f"plan written to {args.plan_out}: run it with --plan {args.plan_out}"
            )
    counts = "  ".join(f"{k} {v}" for k, v in summary.counts.items() if v)
    console.result(
        "summary",
        f"{summary.reason}: {counts or 'nothing to do'} "
        f"({summary.duration_s:.1f}s, exit {summary.exit_code}); audit log {summary.audit_log}"
        + _next_step(summary),
        run_id=summary.run_id, counts=dict(summary.counts), exit_code=summary.exit_code,
        reason=summary.reason, duration_s=summary.duration_s,
    )  # fmt: skip
    if summary.error and summary.error not in outputs.said:
        error = summary.error
        if summary.reason == "aborted":
            error = abort_words(
                error, job, field=summary.error_field, campaign_id=summary.error_campaign
            )
        console.error(summary.reason, f"{summary.reason}: {error}")


def _next_step(summary: RunResult) -> str:
    """What to do after a run that stopped early, for the person reading the summary."""
    pending = summary.counts.get("pending", 0)
    if summary.reason == "interrupted":
        return "; rerun the same command to resume: campaigns already done are skipped"
    if summary.reason in ("aborted", "halted") and pending:
        stay = "stays" if pending == 1 else "stay"
        left = f"{plural(pending, 'campaign')} not attempted {stay} pending"
        return f"; {left}: rerun once fixed to resume"
    return ""


def _age(text: str) -> timedelta:
    age = parse_age(text)
    if age is None:
        raise JobError(f"--plan-max-age: expected an age like 30m, 24h or 7d, got {text[:40]!r}")
    return age
