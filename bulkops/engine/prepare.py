"""What a run learns about its campaigns before it acts, at the fewest requests.

A ``select`` job already holds every campaign's name, status and creation
date in its list answers: its preview sends nothing more. An id job (ids in
the job, a plan, ``--campaigns-file``) learns about its ids either with a GET
each or by paging through the list API, whichever costs fewer requests: one
list page is asked first, and its answer says how many pages the rest would
take. A real run learns only the statuses its guards need (``protect_status``,
and Active for ``stop_before_delete``), listing only campaigns in those
statuses, which are usually few.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bulkops.engine.guards import guarded_statuses, known_outcome, protects, status_of
from bulkops.engine.selection import Paging, candidate, list_body
from bulkops.engine.watch import StatusWatch
from bulkops.errors import ApiError, NotFound
from bulkops.model import Job, Outcome, Selection

FetchPage = Callable[[dict[str, Any]], Awaitable[Any]]  # a list call through the pool: an Answer
GetOne = Callable[[str], Awaitable[Any]]  # a GET through the pool: an Answer
Say = Callable[[str], None]

PROBE_MIN_IDS = 2  # for one id a GET never costs more than a list page


@dataclass
class Knowledge:
    """What the list API said about a run's ids."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> its list item
    unlisted: list[str] = field(default_factory=list)  # ids left for a GET each
    complete: bool = False  # listed to the end: an id not in ``items`` is not there
    list_calls: int = 0


@dataclass
class Prepared:
    """The work of a run once it knows what it needs about its campaigns."""

    send: list[str]  # ids for the worker pool: a GET each in a dry run, a DELETE in a real one
    settled: list[Outcome]  # outcomes known without a request of their own
    stop_first: set[str] = field(default_factory=set)  # Active campaigns to stop before deleting
    watch: StatusWatch | None = None  # a real run's statuses, kept fresh before each DELETE
    # each campaign as the list answers or a GET showed it, for the audit line's ``before``
    seen: Mapping[str, dict[str, Any]] = field(default_factory=dict)


async def learn(
    ids: Sequence[str],
    *,
    statuses: tuple[str, ...],
    campaign_type: str,
    fetch_page: FetchPage,
    say: Say,
    what: str = "preview",
) -> Knowledge:
    """Pages through the list API (campaigns in ``statuses`` only; all when empty) while that
    costs fewer requests than a GET for each id still unknown; those are left ``unlisted``.

    Paging follows the listing's rules (``Paging``): on only while ``hasMore`` is the JSON
    value true, and AbortError for a page that brings no new id or more pages than
    ``totalResults`` fills. Only ``hasMore: false`` makes the listing complete: after any
    other value an id not listed may still be there (perhaps Active), so it gets a GET."""
    if len(ids) < PROBE_MIN_IDS:
        say(f"{what}: {len(ids)} GET request{'s' * (len(ids) != 1)}")
        return Knowledge(unlisted=list(ids))
    wanted = set(ids)
    known = Knowledge()
    say(
        f"{what}: at most {len(ids) + 1:,} requests: 1 list call first, to see whether "
        f"listing costs fewer requests than {len(ids):,} GETs"
    )
    selection, paging = Selection(status=statuses), Paging()
    while True:
        page = known.list_calls + 1
        data = (await fetch_page(list_body(selection, campaign_type, page))).data or {}
        known.list_calls = page
        if paging.turn(data, _take_page(data, page, wanted, known)):
            return _listed_to_the_end(known, ids, data.get("hasMore") is False, say, what)
        left = [i for i in ids if i not in known.items]
        pages_left = _pages_left(data, page)
        if pages_left is None or pages_left >= len(left):
            known.unlisted = left
            say(
                f"{what}: {len(left):,} GETs cost fewer requests than listing on "
                f"({_count(pages_left)} more pages): {page + len(left):,} requests in all"
            )
            return known
        if page == 1:
            say(
                f"{what}: {pages_left:,} more list calls cost fewer requests than "
                f"{len(left):,} GETs: {1 + pages_left:,} requests in all"
            )


def _listed_to_the_end(
    known: Knowledge, ids: Sequence[str], complete: bool, say: Say, what: str
) -> Knowledge:
    """The last page read: the listing is ``complete`` (``hasMore: false``), or its ids not
    seen are left for a GET each, since a ``hasMore`` bulkops cannot read proves nothing."""
    page = known.list_calls
    if complete:
        known.complete = True
        say(f"{what}: {page} list call{'s' * (page > 1)} in all, instead of {len(ids):,} GETs")
    else:
        known.unlisted = [i for i in ids if i not in known.items]
        say(f"{what}: the list call's hasMore is not true or false: "
            f"{len(known.unlisted):,} GETs")  # fmt: skip
    return known


def _take_page(data: dict[str, Any], page: int, wanted: set[str], known: Knowledge) -> list[Any]:
    """Keeps the items of ``wanted`` ids from one list answer, and returns its results;
    ApiError for an answer that holds no list."""
    results = data.get("results")
    if not isinstance(results, list):
        raise ApiError(f"list call page {page}: the answer has no data.results list")
    for item in results:
        found = candidate(item) if isinstance(item, dict) else None
        if found is not None and found.id in wanted:
            known.items[found.id] = item
    return results


async def prepare_preview(
    job: Job,
    todo: Sequence[str],
    listed: Mapping[str, dict[str, Any]] | None,
    *,
    fetch_page: FetchPage,
    say: Say,
) -> Prepared:
    """A preview's work: what the list answers already tell is settled from them (a select
    job's ``listed`` items, or one list page and more for an id job); the rest gets a GET."""
    if listed is None:
        known = await learn(
            todo, statuses=(), campaign_type=job.target.campaign_type, fetch_page=fetch_page,
            say=say,
        )  # fmt: skip
        listed, send = known.items, known.unlisted
        missing = [] if not known.complete else [i for i in todo if i not in listed]
    else:
        say("preview from the list answers: no request beyond the list calls")
        send, missing = [], []
    protect = job.run.protect_status
    settled = [known_outcome(i, listed[i], protect) for i in todo if i in listed]
    settled += [known_outcome(i, None, protect) for i in missing]
    return Prepared(send, settled, _to_stop(job, todo, listed), seen=listed)


async def prepare_delete(
    job: Job,
    todo: Sequence[str],
    listed: Mapping[str, dict[str, Any]] | None,
    *,
    fetch_page: FetchPage,
    get_one: GetOne,
    say: Say,
    listed_at: float = 0.0,
) -> Prepared:
    """A real run's work: the campaigns whose status ``run.protect_status`` protects are set
    aside (``protected``), learning only the statuses the guards need; the rest are sent,
    each decided on again before its DELETE by a ``StatusWatch`` (``listed`` was seen at the
    monotonic time ``listed_at``)."""
    statuses = guarded_statuses(job.run)
    if not statuses or not todo:
        return Prepared(list(todo), [], seen=listed or {})
    if listed is None:
        what = f"checking statuses ({', '.join(statuses)})"
        listed_at = time.monotonic()
        listed = await lookup(job, todo, statuses, fetch_page, get_one, say, what)
    protect = job.run.protect_status
    protected = [i for i in todo if i in listed and protects(listed[i], protect)]
    shielded = set(protected)
    send = [i for i in todo if i not in shielded]

    async def look(ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await lookup(job, ids, statuses, fetch_page, get_one, lambda text: None, "")

    watch = StatusWatch(job.run, send, dict(listed), seen_at=listed_at, look=look, say=say)
    return Prepared(
        send,
        [known_outcome(i, listed[i], protect) for i in protected],
        _to_stop(job, todo, listed),
        watch,
        listed,
    )


async def lookup(
    job: Job,
    ids: Sequence[str],
    statuses: tuple[str, ...],
    fetch_page: FetchPage,
    get_one: GetOne,
    say: Say,
    what: str,
) -> dict[str, dict[str, Any]]:
    """The items of ``ids`` that exist in ``statuses`` (any status when empty), learnt by
    listing or a GET each, whichever costs fewer requests; a GET's item may be in any status."""
    known = await learn(
        ids, statuses=statuses, campaign_type=job.target.campaign_type,
        fetch_page=fetch_page, say=say, what=what,
    )  # fmt: skip
    items = dict(known.items)
    gate = asyncio.Semaphore(job.run.concurrency)

    async def fetch(campaign_id: str) -> None:
        async with gate:
            try:
                data = (await get_one(campaign_id)).data
            except NotFound:
                return  # gone: its DELETE will say not_found
            items[campaign_id] = data if isinstance(data, dict) else {}

    await asyncio.gather(*(fetch(i) for i in known.unlisted))
    return items


def _to_stop(job: Job, todo: Sequence[str], listed: Mapping[str, dict[str, Any]]) -> set[str]:
    if not job.run.stop_before_delete:
        return set()
    return {i for i in todo if status_of(listed.get(i)) == "Active"}


def _pages_left(data: dict[str, Any], page: int) -> int | None:
    """How many more pages the listing has, as the answer tells; None if it does not."""
    total_pages = data.get("totalPages")
    if isinstance(total_pages, int) and not isinstance(total_pages, bool) and total_pages > page:
        return total_pages - page
    total, limit = data.get("totalResults"), data.get("limit")
    if isinstance(total, int) and isinstance(limit, int) and limit > 0:
        return max(1, math.ceil(total / limit) - page)
    return None


def _count(pages: int | None) -> str:
    return "an unknown number of" if pages is None else f"{pages:,}"
