"""The command line's flags applied over a loaded job."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from bulkops.errors import JobError
from bulkops.job.rates import MAX_RATES, parse_rate_spec
from bulkops.model import Job
from bulkops.text import excerpt


def audit_path(text: str, cwd: Path | None) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else (cwd or Path.cwd()) / path


def with_overrides(
    job: Job,
    *,
    dry_run: bool | None = None,
    concurrency: int | None = None,
    rates: Sequence[str] | None = None,
    audit_log: str | None = None,
    cwd: Path | None = None,
) -> Job:
    """``job`` with the command line's flags applied; None (or no rates) keeps the job's.

    ``rates`` replaces the job's whole list; ``["none"]`` turns limiting off.
    A relative ``audit_log`` is relative to ``cwd`` (default the current one).
    """
    run = job.run
    if dry_run is not None:
        run = dataclasses.replace(run, dry_run=dry_run)
    if concurrency is not None:
        if (
            isinstance(concurrency, bool)
            or not isinstance(concurrency, int)
            or not (1 <= concurrency <= 1000)
        ):
            raise JobError(
                f"--concurrency: expected an integer from 1 to 1000, got {excerpt(concurrency)}"
            )
        run = dataclasses.replace(run, concurrency=concurrency)
    if rates:
        if len(rates) > MAX_RATES:
            raise JobError(f"--rate: given {len(rates)} times; at most {MAX_RATES}")
        off = [t.strip().lower() for t in rates] == ["none"]
        specs = () if off else tuple(parse_rate_spec(t, "--rate") for t in rates)
        run = dataclasses.replace(run, rates=specs)
    path = job.audit_log
    if audit_log is not None:
        if not audit_log or any(ord(c) < 0x20 for c in audit_log):
            raise JobError(f"--audit-log: expected a file path, got {excerpt(audit_log)}")
        path = audit_path(audit_log, cwd)
    return dataclasses.replace(job, run=run, audit_log=path)
