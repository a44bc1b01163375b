"""`bulkops list`: what a job selects, or which of its ids exist; deletes nothing."""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import replace
from typing import Any

from bulkops.cli.abort_hint import abort_words
from bulkops.cli.console import Console, say
from bulkops.cli.signals import GUARD
from bulkops.cli.tables import csv_cell, id_lines, short_list, table
from bulkops.engine.listing import Listing, list_campaigns
from bulkops.errors import EXIT_ABORTED, AbortError, ApiError, field_to_check
from bulkops.job import load_job
from bulkops.model import Job
from bulkops.text import plural, printable_json

COLUMNS = ("id", "name", "status", "createdAt", "protected")


def list_command(args: argparse.Namespace, console: Console) -> int:
    job = load_job(args.job)
    for warning in job.warnings:
        console.warn("job", warning)
    try:
        listing = GUARD.run(
            list_campaigns(job, lambda text: console.info("requests", text), console.warn)
        )
    except AbortError as exc:
        console.error("aborted", f"aborted: {abort_words(exc.explanation, job)}")
        return EXIT_ABORTED
    except ApiError as exc:
        words = abort_words(exc.explanation, job, field=field_to_check(exc))
        console.error("aborted", f"aborted: {words}")
        return EXIT_ABORTED
    listing = replace(listing, rows=_newest_first(listing.rows))
    if text := _FORMATS[args.output](listing, job):
        say(text)
    _say_summary(console, listing, job)
    return 0


def _newest_first(rows: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
    """One order for every format: newest first, as the list API answers."""
    return tuple(sorted(rows, key=lambda r: (str(r["createdAt"] or ""), r["id"]), reverse=True))


def _table(listing: Listing, job: Job) -> str:
    rows = [
        (r["id"], r["name"], r["status"], r["createdAt"], "yes" if r["protected"] else "")
        for r in listing.rows
    ]
    return table(("id", "name", "status", "created", "protected"), rows)


def _json(listing: Listing, job: Job) -> str:
    doc = {
        "job": job.name, "target": job.target.host, "count": len(listing.rows),
        "campaigns": list(listing.rows), "not_found": list(listing.not_found),
        "excluded": list(listing.excluded), "requests": listing.requests,
    }  # fmt: skip
    return printable_json(doc, indent=1)


def _csv(listing: Listing, job: Job) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(
        [csv_cell(r[c]) for c in COLUMNS[:-1]] + [str(r["protected"]).lower()] for r in listing.rows
    )
    return out.getvalue().rstrip("\n")


def _ids(listing: Listing, job: Job) -> str:
    return id_lines(r["id"] for r in listing.rows)


_FORMATS = {"table": _table, "json": _json, "csv": _csv, "ids": _ids}


def _say_summary(console: Console, listing: Listing, job: Job) -> None:
    protected = sum(1 for r in listing.rows if r["protected"])
    shield = f" ({protected} protected by run.protect_status)" if protected else ""
    console.result(
        "listed", f"{plural(len(listing.rows), 'campaign')}{shield} on {job.target.host}, "
        f"{plural(listing.requests, 'request')}; nothing was deleted",
        count=len(listing.rows), protected=protected, requests=listing.requests,
    )  # fmt: skip
    if listing.not_found:
        missing = listing.not_found
        console.warn(
            "not_found", f"{plural(len(missing), 'id')} {'does' if len(missing) == 1 else 'do'} "
            f"not exist: {short_list(missing)}",
        )  # fmt: skip
    if listing.excluded:
        left_out = listing.excluded
        console.info(
            "excluded",
            f"{plural(len(left_out), 'id')} left out by exclude: {short_list(left_out)}",
        )
