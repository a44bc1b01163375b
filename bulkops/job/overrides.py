"""The command line's flags applied over a loaded job."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from bulkops.errors import JobError
from bulkops.job.campaign_set import campaign_set
from bulkops.job.rates import MAX_RATES, parse_rate_spec
from bulkops.model import Job
from bulkops.text import excerpt


def audit_path(text: str, base: Path | None) -> Path:
    """``text`` as a path; a relative one is relative to ``base`` (default the current directory).

    The job file's ``audit_log`` is relative to the job file's directory, as
    ``campaigns_file`` is; ``--audit-log`` is relative to where bulkops runs.
    ``jobs/../audit/x.jsonl`` becomes ``audit/x.jsonl``, unless a symbolic link
    on the way makes ``..`` lead elsewhere (then it stays as written).
    """
    path = Path(text).expanduser()
    if path.name in ("", ".", "..") or text.endswith("/"):
        raise JobError(
            f"audit log {excerpt(text)}: names a directory, not a file: "
            "name the file, like audit/nightly.jsonl"
        )
    joined = path if path.is_absolute() else (base or Path.cwd()) / path
    tidy = Path(os.path.normpath(joined))
    same = os.path.realpath(joined.parent) == os.path.realpath(tidy.parent)
    return tidy if same else joined


def with_overrides(
    job: Job,
    *,
    dry_run: bool | None = None,
    concurrency: int | None = None,
    rates: Sequence[str] | None = None,
    audit_log: str | None = None,
    cwd: Path | None = None,
    campaign_ids: Sequence[str] | None = None,
) -> Job:
    """``job`` with the command line's flags applied; None (or no rates) keeps the job's.

    ``rates`` replaces the job's whole list; ``["none"]`` turns limiting off.
    A relative ``audit_log`` is relative to ``cwd`` (default the current one).
    ``campaign_ids`` (``--campaigns-file``) replace the job's ``campaigns`` or
    ``campaigns_file`` for this run; a ``select`` stays and narrows them (the run
    touches only the given ids its filters also match); ``exclude`` still applies.
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
    job = dataclasses.replace(job, run=run, audit_log=path)
    return job if campaign_ids is None else _with_ids(job, campaign_ids)


def _with_ids(job: Job, ids: Sequence[str]) -> Job:
    """The job with ``ids`` for its campaigns: its warnings about its own ids are replaced by
    those about these; every other warning (a YAML hint, protected filters) stays."""
    chosen = campaign_set(ids, job.exclude, among="the campaigns of --campaigns-file")
    kept = [w for w in job.warnings if w not in job.campaign_warnings]
    return dataclasses.replace(
        job, campaign_ids=chosen.ids, removed_by_exclude=chosen.excluded,
        warnings=(*kept, *chosen.warnings), campaign_warnings=chosen.warnings,
    )  # fmt: skip
