"""Command line: arguments → job → execution → exit code.

The only module that prints results or decides the process's exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from bulkops import __version__
from bulkops.audit import utc_now
from bulkops.console import Console
from bulkops.errors import BulkOpsError, JobError, LockedError
from bulkops.execution import Execution, RunSummary, new_run_id
from bulkops.job import Job, check_max_deletes, describe, load_job, with_overrides
from bulkops.monitoring import write_metrics, write_summary_json
from bulkops.plan import load_plan, write_plan
from bulkops.render import preview

EXIT_USAGE = 2

MAIN_EPILOG = """examples:
  bulkops validate jobs/example.yaml
  bulkops run jobs/example.yaml --dry-run
  bulkops run jobs/example.yaml --yes
  bulkops report audit/example.jsonl --failed-ids > retry-ids.txt
  bulkops sandbox --campaigns 200
"""

RUN_EPILOG = """examples:
  bulkops run jobs/example.yaml --dry-run                      preview: nothing is deleted
  bulkops run jobs/example.yaml --dry-run --plan-out plan.json  preview and save the exact set
  bulkops run jobs/example.yaml --plan plan.json --yes          delete exactly that set
  bulkops run jobs/nightly.yaml --yes --log-format json --quiet  unattended (cron)

exit codes: 0 all done, 1 some failed, 2 bad usage/job (nothing sent),
            3 aborted (401/403) or halted, 130/143 interrupted (rerun to resume)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulkops",
        description="Delete Kore.ai voice campaigns in bulk: rate-limited, retried, audited.",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bulkops {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run", help="run a job (delete, or preview with --dry-run)", epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    run.add_argument("job", metavar="JOB.yaml")
    run.add_argument(
        "--dry-run", action="store_true", default=None, help="preview with GET; never DELETE"
    )
    run.add_argument(
        "--yes",
        action="store_true",
        help="do not ask for confirmation (required without a terminal)",
    )
    run.add_argument(
        "--audit-log", metavar="PATH", help="audit log to append to (default from the job)"
    )
    run.add_argument("--concurrency", type=int, metavar="N", help="requests in flight at most")
    run.add_argument(
        "--rate", action="append", metavar="SPEC", help="rate limit like 60/min; repeat for several"
    )
    run.add_argument(
        "--fresh", action="store_true", help="ignore earlier runs in the audit log (no resume)"
    )
    run.add_argument(
        "--plan-out", metavar="PATH", help="with --dry-run: save the resolved set as a plan"
    )
    run.add_argument("--plan", metavar="PATH", help="delete exactly the campaigns of this plan")
    run.add_argument(
        "--plan-max-age", default="24h", metavar="AGE", help="refuse older plans (default 24h)"
    )
    run.add_argument(
        "--output",
        choices=("table", "json"),
        default="table",
        help="dry-run preview format on stdout",
    )
    _add_log_options(run)
    run.add_argument(
        "--summary-json", metavar="PATH", help="write the run summary as JSON (atomically)"
    )
    run.add_argument(
        "--metrics-file", metavar="PATH", help="write Prometheus textfile metrics (atomically)"
    )

    validate = commands.add_parser(
        "validate", help="check a job file; sends nothing",
        epilog="example:\n  bulkops validate jobs/example.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    validate.add_argument("job", metavar="JOB.yaml")
    _add_log_options(validate)

    commands.add_parser(
        "report", help="summarise an audit log (bulkops report --help)", add_help=False
    )
    commands.add_parser(
        "sandbox", help="local Kore.ai-compatible API (bulkops sandbox --help)", add_help=False
    )
    return parser


def _add_log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="stderr format"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="only warnings, errors and the summary"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # report and sandbox own their arguments
    if args_list and args_list[0] == "report":
        from bulkops import report

        return report.main(args_list[1:], prog="bulkops report")
    if args_list and args_list[0] == "sandbox":
        from bulkops import sandbox

        return sandbox.main(args_list[1:])
    args = build_parser().parse_args(args_list)
    console = Console(json_lines=args.log_format == "json", quiet=args.quiet)
    try:
        if args.command == "validate":
            return _validate(args, console)
        return _run(args, console)
    except LockedError as exc:
        console.error("locked", str(exc))
        return EXIT_USAGE
    except JobError as exc:
        console.error("invalid", str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.error("interrupted", "interrupted before anything was deleted")
        return 130


def _load(args: argparse.Namespace) -> Job:
    job = load_job(args.job)
    if args.command == "run":
        job = with_overrides(
            job,
            dry_run=args.dry_run,
            concurrency=args.concurrency,
            rates=args.rate,
            audit_log=args.audit_log,
        )
    return job


def _validate(args: argparse.Namespace, console: Console) -> int:
    job = _load(args)
    for warning in job.warnings:
        console.warn("job", warning)
    if job.select is None and not job.run.dry_run:
        check_max_deletes(job, len(job.campaign_ids))
    print(f"{job.path}: valid")
    for line in describe(job):
        print(f"  {line}")
    return 0


def _run(args: argparse.Namespace, console: Console) -> int:
    try:
        job = _load(args)
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
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if not match:
        raise JobError(f"--plan-max-age: expected an age like 30m, 24h or 7d, got {text[:40]!r}")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
    return timedelta(**{unit: int(match[1])})
