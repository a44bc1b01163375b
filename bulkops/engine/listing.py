"""``bulkops list``: what a job selects, or which of its ids exist, at the fewest requests.

Nothing is deleted and nothing is written: no lock, no audit log. Every
request still goes through the run's limiter and retry policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bulkops.engine.pool import WorkerPool
from bulkops.engine.preview import lookup
from bulkops.engine.selection import resolve
from bulkops.ids import shown
from bulkops.kore.client import KoreClient, open_session
from bulkops.kore.tokens import token_source
from bulkops.model import Answer, Job
from bulkops.ratelimit.limiter import SlotLimiter


@dataclass(frozen=True)
class Listing:
    rows: tuple[dict[str, Any], ...]  # id, name, status, createdAt, protected
    not_found: tuple[str, ...]  # an id job's ids that do not exist
    excluded: tuple[str, ...]  # ids the job's exclude took out
    requests: int


async def list_campaigns(job: Job, say: Callable[[str], None]) -> Listing:
    """The job's campaigns as the server knows them now; ApiError if it cannot be asked."""
    target, run = job.target, job.run
    async with open_session(run.concurrency) as session:
        client = KoreClient(
            session, host=target.host, app_id=target.app_id, account_id=target.account_id,
            campaign_type=target.campaign_type, tokens=token_source(job.auth), timeout=run.timeout,
        )  # fmt: skip
        limiter = SlotLimiter(run.rates, margin=run.rate_margin)
        pool = WorkerPool(
            client, settings=run, limiter=limiter, dry_run=True, on_outcome=lambda _: None
        )

        def fetch_page(body: dict[str, Any]) -> Awaitable[Answer]:
            return pool.request(lambda: client.list_page(body))

        if job.select is not None:
            listed, _ = await resolve(
                fetch_page, job.select, campaign_type=target.campaign_type,
                now=datetime.now(timezone.utc),
                on_invalid=lambda i, problem: say(f"skipped id {shown(i)}: it {problem}"),
            )  # fmt: skip
            items = {c.id: c.data for c in listed}
            ids, excluded = [i for i in items if i not in job.exclude], [*job.exclude & set(items)]
            missing: list[str] = []
        else:
            ids, excluded = list(job.campaign_ids), list(job.excluded)
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
        "protected": status in job.run.protect_status,
    }
