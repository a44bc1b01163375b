"""``bulkops list``: what a job selects, or which of its ids exist, at the fewest requests.

Nothing is deleted and nothing is written: no lock, no audit log. Every
request still goes through the run's machinery (``machinery``): the same
limiter, shared budget, preload and retry policy as a run's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bulkops.engine.ending import RunEnding
from bulkops.engine.guards import protects
from bulkops.engine.machinery import history_of, machinery
from bulkops.engine.prepare import lookup
from bulkops.engine.selection import Unfiltered, resolve
from bulkops.ids import shown
from bulkops.job.campaign_set import campaign_set
from bulkops.model import Answer, Job


@dataclass(frozen=True)
class Listing:
    rows: tuple[dict[str, Any], ...]  # id, name, status, createdAt, protected
    not_found: tuple[str, ...]  # an id job's ids that do not exist
    excluded: tuple[str, ...]  # ids the job's exclude took out
    requests: int


async def list_campaigns(
    job: Job, say: Callable[[str], None], warn: Callable[[str, str], None]
) -> Listing:
    """The job's campaigns as the server knows them now; ApiError if it cannot be asked.

    The requests go through the run's own machinery: the job's ``api`` paths, the
    account's shared budget and the audit log's recent requests count as a run's do."""
    ending = RunEnding()
    async with machinery(job, ending, history_of(job), warn) as machine:
        client, pool = machine.client, machine.pool

        def fetch_page(body: dict[str, Any]) -> Awaitable[Answer]:
            return pool.request(lambda: client.list_page(body))

        if job.select is not None:
            unfiltered = Unfiltered(warn)
            listed, _ = await resolve(
                fetch_page, job.select, campaign_type=job.target.campaign_type,
                now=datetime.now(timezone.utc),
                on_invalid=lambda i, problem: say(f"skipped id {shown(i)}: it {problem}"),
                on_unfiltered=unfiltered.add,
            )  # fmt: skip
            unfiltered.say()
            items = {c.id: c.data for c in listed}
            chosen = campaign_set(
                list(items), job.exclude, among="the selected campaigns", empty_warning=False
            )
            for warning in chosen.warnings:
                warn("exclude", warning)
            ids, excluded, missing = list(chosen.ids), chosen.excluded, []
        else:
            ids, excluded = list(job.campaign_ids), job.removed_by_exclude
            items = await lookup(
                job, ids, (), fetch_page, lambda i: pool.request(lambda: client.get(i)), say, "list"
            )
            missing = [i for i in ids if i not in items]
    rows = tuple(_row(i, items[i], job) for i in ids if i in items)
    return Listing(rows, tuple(missing), tuple(sorted(excluded)), pool.stats.requests)


def _row(campaign_id: str, item: dict[str, Any], job: Job) -> dict[str, Any]:
    status = str(item.get("status") or "")
    return {
        "id": campaign_id,
        "name": item.get("name"),
        "status": status,
        "createdAt": item.get("createdAt"),
        "protected": protects(item, job.run.protect_status),
    }
