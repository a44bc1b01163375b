"""`bulkops run`: the job with its flags → an execution → results, monitoring files, exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bulkops.audit import utc_now
from bulkops.console import Console
from bulkops.errors import EXIT_USAGE, BulkOpsError, JobError, LockedError
from bulkops.execution import Execution, RunSummary, new_run_id
from bulkops.job import Job, load_job, parse_age, with_overrides
from bulkops.monitoring import write_metrics, write_summary_json
from bulkops.plan import load_plan, write_plan
from bulkops.render import preview


def load(args: argparse.Namespace) -> Job:
    """The job file with the command line's overrides applied."""
    return with_overrides(
        load_job(args.job),
        dry_run=args.dry_run,
        concurrency=args.concurrency,
        rates=args.rate,
        audit_log=args.audit_log,
    )


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        job = load(args)
    except JobError as exc:
        refused = RunSummary(
            new_run_id(), Path(args.job).stem, bool(args.dry_run), args.audit_log or ""
        )
        _refuse(args, refused, "invalid", str(exc))
        raise
    for warning in job.warnings:
        console.warn("job", warning)
    execution = Execution(job, console, fresh=args.fresh)
    try:
        execution.plan_ids = _check_run_args(args, job)
        summary = asyncio.run(execution.execute(_confirmer(args, job)))
    except LockedError:
        raise  # the summary and metrics files belong to the run that holds the lock
    except BulkOpsError as exc:
        _refuse(args, execution.summary, "refused", str(exc))
        raise
    except KeyboardInterrupt:
        _refuse(
            args, execution.summary, "interrupted", "interrupted before anything was deleted", 130
        )
        raise
    _write_monitoring(args, summary)
    _show_result(args, console, job, summary)
    return summary.exit_code


def _check_run_args(args: argparse.Namespace, job: Job) -> list[str] | None:
    """Usage checks that need the job; returns the plan's ids when --plan is given."""
    dry_run = job.run.dry_run
    if args.plan_out and not dry_run:
        raise JobError("--plan-out needs --dry-run: a plan is made by previewing")
    if args.plan and dry_run:
        raise JobError("--plan runs a reviewed plan for real; drop --dry-run")
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if not dry_run and not args.yes and not interactive:
        raise JobError("refusing to delete without a terminal to confirm on: pass --yes")
    if args.plan:
        return load_plan(Path(args.plan), job, max_age=_age(args.plan_max_age))
    return None


def _confirmer(args: argparse.Namespace, job: Job) -> Callable[[int], bool]:
    def confirm(count: int) -> bool:
        if args.yes:
            return True
        t = job.target
        sys.stderr.write(
            f"About to DELETE {count} campaigns from {t.host} "
            f"(app {t.app_id}, account {t.account_id}).\nType 'yes' to continue: "
        )
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() == "yes"

    return confirm


def _refuse(
    args: argparse.Namespace, summary: RunSummary, reason: str, error: str, code: int = EXIT_USAGE
) -> None:
    """Monitoring hears of runs that never started, too."""
    summary.exit_code, summary.reason, summary.error = code, reason, error
    summary.started_at = summary.started_at or utc_now()
    summary.finished_at = utc_now()
    _write_monitoring(args, summary)


def _write_monitoring(args: argparse.Namespace, summary: RunSummary) -> None:
    if args.summary_json:
        write_summary_json(summary, Path(args.summary_json))
    if args.metrics_file:
        write_metrics(summary, Path(args.metrics_file))


def _show_result(args: argparse.Namespace, console: Console, job: Job, summary: RunSummary) -> None:
    if summary.dry_run:
        if args.output == "json":
            doc = {"job": job.name, "target": job.target.host, "count": len(summary.previews),
                   "campaigns": summary.previews, "counts": summary.counts}  # fmt: skip
            print(json.dumps(doc, ensure_ascii=False, indent=1))
        else:
            print(preview(summary.previews))
            print(f"{len(summary.previews)} campaigns would be deleted from {job.target.host}")
        if args.plan_out:
            write_plan(Path(args.plan_out), job, summary.previews)
            console.result(
                "plan", f"plan written to {args.plan_out}: run it with --plan {args.plan_out}"
            )
    counts = "  ".join(f"{k} {v}" for k, v in summary.counts.items() if v)
    console.result(
        "summary",
        f"{summary.reason}: {counts or 'nothing to do'} "
        f"({summary.duration_s:.1f}s, exit {summary.exit_code}); audit log {summary.audit_log}",
        run_id=summary.run_id, counts=summary.counts, exit_code=summary.exit_code,
        reason=summary.reason, duration_s=summary.duration_s,
    )  # fmt: skip
    if summary.error:
        console.error("aborted", summary.error)


def _age(text: str) -> timedelta:
    age = parse_age(text)
    if age is None:
        raise JobError(f"--plan-max-age: expected an age like 30m, 24h or 7d, got {text[:40]!r}")
    return age
