"""Command line: arguments → job → execution → exit code.

The only module that prints results or decides the process's exit code.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from bulkops import __version__
from bulkops.cli.console import Console, say
from bulkops.cli.signals import INTERRUPTED_EARLY, interrupted_exit_code
from bulkops.errors import (
    EXIT_ABORTED,
    EXIT_USAGE,
    AuditWriteError,
    Interrupted,
    JobError,
    LockedError,
)

# Writing stdout failed: a full device, a quota, a file too large, an I/O error
OUTPUT_LOST = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})

# Modules are imported where a command needs them: `bulkops --help` and
# `validate` start without loading aiohttp.


MAIN_EPILOG = """examples:
  bulkops validate jobs/example.yaml
  bulkops run jobs/example.yaml --dry-run
  bulkops run jobs/example.yaml --yes
  bulkops list jobs/example.yaml --output ids
  bulkops run jobs/example.yaml --retry-failed --yes
  bulkops restore jobs/example.yaml --dry-run
  bulkops sandbox --campaigns 200
"""

RUN_EPILOG = """examples:
  bulkops run jobs/example.yaml --dry-run                      preview: nothing is deleted
  bulkops run jobs/example.yaml --dry-run --plan-out plan.json  preview and save the exact set
  bulkops run jobs/example.yaml --plan plan.json --yes          delete exactly that set
  bulkops run jobs/nightly.yaml --yes --log-format json --quiet  unattended (cron)
  bulkops run jobs/x.yaml --retry-failed --yes                 retry exactly what failed

exit codes: 0 all done, 1 some failed, 2 bad usage/job (nothing sent),
            3 aborted (401/403, audit log not writable) or halted,
            129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM (rerun to resume)
"""


LIST_EPILOG = """examples:
  bulkops list jobs/nightly-cleanup.yaml                  what the select finds, as a table
  bulkops list jobs/example.yaml --output csv > now.csv   which of the job's ids exist
  bulkops list jobs/nightly-cleanup.yaml --output ids | wc -l

Requests: a select job's list calls; an id job lists or GETs, whichever costs fewer.
exit codes: 0 listed, 2 bad usage/job, 3 the server could not be asked (credentials, host)
"""


def given(text: str) -> str:
    """An argument that names a file or a value: empty (an unset shell variable) is an
    error, never "not given": ``--plan ""`` must not run the job's live selection."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    if "\x00" in text:  # only in-process callers can pass one: exec() cannot
        raise argparse.ArgumentTypeError("must not contain a NUL character")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulkops",
        description=(
            "Delete Kore.ai voice and SMS campaigns in bulk: rate-limited, retried, audited."
        ),
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bulkops {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run", help="run a job (delete, or preview with --dry-run)", epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    run.add_argument("job", metavar="JOB.yaml", type=given)
    run.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="preview: never DELETE (a select job previews from its list answers)",
    )
    run.add_argument(
        "--yes",
        action="store_true",
        help="do not ask for confirmation (required without a terminal)",
    )
    run.add_argument(
        "--audit-log",
        metavar="PATH",
        type=given,
        help="audit log to append to (default from the job)",
    )
    run.add_argument("--concurrency", type=int, metavar="N", help="requests in flight at most")
    run.add_argument(
        "--rate",
        action="append",
        metavar="SPEC",
        type=given,
        help="rate limit like 60/min; repeat for several",
    )
    run.add_argument(
        "--fresh", action="store_true", help="ignore earlier runs in the audit log (no resume)"
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="only the campaigns whose latest outcome in the audit log is failed",
    )
    run.add_argument(
        "--plan-out",
        metavar="PATH",
        type=given,
        help="with --dry-run: save the resolved set as a plan",
    )
    run.add_argument(
        "--plan", metavar="PATH", type=given, help="delete exactly the campaigns of this plan"
    )
    run.add_argument(
        "--plan-max-age",
        default="24h",
        metavar="AGE",
        type=given,
        help="refuse older plans (default 24h)",
    )
    run.add_argument(
        "--campaigns-file",
        metavar="PATH",
        type=given,
        help="take the campaign ids from this file ('-' for stdin), one a line, instead of the "
        "job's campaigns or campaigns_file (a select job touches only those it matches); "
        "empty: nothing to do",
    )
    run.add_argument(
        "--output",
        choices=("table", "json", "ids"),
        default="table",
        help="dry-run preview format on stdout (ids: one id a line, for pipes)",
    )
    _add_log_options(run)
    run.add_argument(
        "--summary-json",
        metavar="PATH",
        type=given,
        help="write the run summary as JSON (atomically)",
    )
    run.add_argument(
        "--metrics-file",
        metavar="PATH",
        type=given,
        help="write Prometheus textfile metrics (atomically)",
    )

    from bulkops.cli.restore_command import add_restore_parser

    add_restore_parser(commands, given, _add_log_options)

    validate = commands.add_parser(
        "validate", help="check a job file; sends nothing",
        epilog="example:\n  bulkops validate jobs/example.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    validate.add_argument("job", metavar="JOB.yaml", type=given)
    _add_log_options(validate)

    listing = commands.add_parser(
        "list", help="show what a job selects, with name and status; deletes nothing",
        epilog=LIST_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    listing.add_argument("job", metavar="JOB.yaml", type=given)
    listing.add_argument(
        "--output", choices=("table", "json", "csv", "ids"), default="table",
        help="format on stdout (ids: one id a line, for pipes)",
    )  # fmt: skip
    _add_log_options(listing)

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
    args = list(sys.argv[1:] if argv is None else argv)
    if sys.stdout is None and args[:1] != ["sandbox"]:
        sys.stderr.write("error: stdout is closed; redirect it to /dev/null to discard it\n")
        return EXIT_USAGE
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # output lost to a full disk is an error, not exit 0
        return code
    except BrokenPipeError:
        # `bulkops report ... | head` closed our stdout: stop quietly, as cat would
        _discard_stdout()
        return 141
    except Interrupted as exc:  # so early that no console existed yet
        sys.stderr.write(INTERRUPTED_EARLY + "\n")
        return interrupted_exit_code(exc)
    except OSError as exc:
        if exc.errno not in OUTPUT_LOST:
            raise
        _discard_stdout()
        sys.stderr.write(f"error: the output could not be written: {exc.strerror}\n")
        return EXIT_ABORTED


def _discard_stdout() -> None:
    """What is left in stdout's buffer cannot be written: drop it, so exit does not try."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _dispatch(args_list: list[str]) -> int:
    # report and sandbox own their arguments
    if args_list and args_list[0] == "report":
        from bulkops.cli import report_command

        return report_command.main(args_list[1:], prog="bulkops report")
    if args_list and args_list[0] == "sandbox":
        from bulkops import sandbox

        return sandbox.main(args_list[1:])
    if args_list and args_list[0] in ("run", "list", "restore"):
        from bulkops.cli.signals import GUARD

        GUARD.install()  # before anything else: no signal may take its default action
    args = build_parser().parse_args(args_list)
    console = Console(json_lines=args.log_format == "json", quiet=args.quiet)
    try:
        if args.command == "validate":
            return _validate(args, console)
        if args.command == "list":
            from bulkops.cli.list_command import list_command

            return list_command(args, console)
        if args.command == "restore":
            from bulkops.cli.restore_command import restore_command

            return restore_command(args, console)
        from bulkops.cli.run_command import run_command

        return run_command(args, console)
    except LockedError as exc:
        console.error("locked", str(exc))
        return EXIT_USAGE
    except JobError as exc:
        console.error("invalid", str(exc))
        return EXIT_USAGE
    except AuditWriteError as exc:  # only run_started escapes so: nothing was deleted
        console.error("audit_log", str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        console.error("interrupted", INTERRUPTED_EARLY)
        return interrupted_exit_code(exc)


def _validate(args: argparse.Namespace, console: Console) -> int:
    from bulkops.engine.flows import flow_of
    from bulkops.job import describe, load_job, max_deletes_refusal

    job = load_job(args.job)
    for warning in job.warnings:
        console.warn("job", warning)
    # a dry run is never refused for its count; a select job is counted when it runs
    counted = flow_of(job).deletes and job.select is None
    if counted and (refusal := max_deletes_refusal(job, len(job.campaign_ids))) is not None:
        raise JobError(refusal)
    say(f"{job.path}: valid")
    for line in describe(job):
        say(f"  {line}")
    return 0
