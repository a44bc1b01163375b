"""``bulkops report``: an audit log summarised on stdout, in the format asked for."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bulkops.cli.console import say
from bulkops.cli.main import given
from bulkops.cli.report_format import FORMATS
from bulkops.cli.restore_report_format import with_restores
from bulkops.errors import EXIT_USAGE
from bulkops.records.report import UnknownRunError, summarize
from bulkops.records.restore_report import restore_reports
from bulkops.text import plural

EPILOG = """examples:
  bulkops report audit/billing-cleanup.jsonl                    every run, as a table
  bulkops report audit/billing-cleanup.jsonl --run 20250101T020000Z-a1b2c3 --format json
  set -o pipefail; bulkops report audit/billing-cleanup.jsonl --failed-ids |
      bulkops run jobs/other.yaml --campaigns-file - --yes     feed what failed to a job
  (the same job retries its own failures with: bulkops run JOB --retry-failed --yes)

requests/s: a run's requests over its duration plus one window of its tightest rate limit
  (the server counts a request that long): a run that kept its limit never shows more.

exit codes: 0 report printed, 2 unreadable log, not an audit log (a job file?), unknown --run id,
  or --failed-ids on a log that records no runs
"""


_JOB_KEY = re.compile(rb"(?:version|name|target|campaigns|select)\s*:")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Summarise a bulkops audit log: counts, rate, latency, retries, failures.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "audit_log", metavar="AUDIT.jsonl", type=given, help="the audit log a job appended to"
    )
    parser.add_argument(
        "--run", metavar="RUN_ID", type=given, help="only this run (default: every run)"
    )
    parser.add_argument(
        "--format", choices=tuple(FORMATS), default="table", help="output format (default table)"
    )
    parser.add_argument(
        "--failed-ids",
        action="store_true",
        help="print only the ids whose latest real outcome is failed, one a line (campaigns_file)",
    )
    return parser


def main(argv: list[str] | None = None, prog: str = "bulkops report") -> int:
    """Print the report on stdout, warnings and errors on stderr; return the exit code."""
    args = build_parser(prog).parse_args(argv)
    if wrong := not_an_audit_log(Path(args.audit_log)):
        _say(f"{prog}: {wrong}")
        return EXIT_USAGE
    try:
        report = summarize(Path(args.audit_log), args.run)
    except OSError as exc:
        _say(
            f"{prog}: cannot read {args.audit_log}: {exc.strerror or exc}; check the path "
            "(a job's log defaults to audit/<job name>.jsonl)"
        )
        return EXIT_USAGE
    except UnknownRunError as exc:
        _say(_unknown_run_message(prog, args.audit_log, exc))
        return EXIT_USAGE
    for bad in report.bad_lines:
        _say(f"{args.audit_log}:{bad.lineno}: {bad.problem}; ignored")
    unlisted = report.bad_line_count - len(report.bad_lines)
    if unlisted:
        _say(f"{args.audit_log}: … and {plural(unlisted, 'more bad line')} ignored")
    if args.failed_ids:
        if not report.runs:  # a wrong file: printing nothing would read as "nothing failed"
            _say(f"{prog}: {args.audit_log} records no runs; run a job first, or check the path")
            return EXIT_USAGE
        if len(report.targets) > 1:
            _say(
                f"{prog}: warning: these failures come from {len(report.targets)} targets; "
                "use --run to pick one run's target before feeding them to a job"
            )
        if report.runs and all(r.dry_run for r in report.runs):
            _say(f"{prog}: note: only dry runs selected; they delete nothing, so no id is listed")
        for campaign_id in report.failed_ids:
            say(campaign_id)
        return 0
    try:
        restores = restore_reports(Path(args.audit_log)) if args.run is None else []
    except OSError as exc:
        _say(f"{prog}: the restore log beside {args.audit_log} cannot be read: {exc.strerror}")
        restores = []
    say(with_restores(FORMATS[args.format](report, args.audit_log), args.format, restores))
    return 0


def not_an_audit_log(path: Path) -> str | None:
    """Why ``path`` is plainly no audit log (a job file, say), or None to read it as one."""
    try:
        if not path.is_file():
            return None  # summarize() refuses it without reading: a FIFO would hang this open
    except OSError:  # a name too long, say: summarize() says why it cannot be read
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip()
    except OSError:
        return None  # summarize() says why it cannot be read
    looks_like_a_job = path.suffix.lower() in (".yaml", ".yml") or _first_key_is_a_job_key(head)
    if head.startswith(b"{") or not looks_like_a_job:
        return None  # an audit log, or something whose bad lines summarize() points out
    problem = f"{path} is not an audit log (one JSON object a line)"
    from bulkops.errors import JobError
    from bulkops.job import load_job

    try:
        log = load_job(path).audit_log
    except JobError:
        return f"{problem}: it looks like a job file; report the audit_log it names"
    return f"{problem}: it is a job file; its audit log is {log}: bulkops report {log}"


def _first_key_is_a_job_key(head: bytes) -> bool:
    for line in head.splitlines():
        line = line.strip()
        if line and not line.startswith(b"#") and line != b"---":
            return bool(_JOB_KEY.match(line))
    return False


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _unknown_run_message(prog: str, log: str, exc: UnknownRunError) -> str:
    if not exc.count:
        return f"{prog}: {log} records no runs; run a job first, or check the path"
    shown = len(exc.known)
    latest = f"the latest {shown} of {exc.count}" if exc.count > shown else "known"
    return (
        f"{prog}: no run {exc.run_id!r} in {log}; {latest}: {', '.join(exc.known)}. "
        "Pass one of these to --run, or leave --run out to report every run."
    )
