"""Choosing campaigns through the list API: the request bodies, paging, and the local filters.

Server-side filters (status, dialing mode, priority) go in the list call's
body; the name glob and the age cut-off are applied here. The whole selection
is resolved before anything is deleted: deleting while paging shifts pages.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bulkops.errors import ApiError
from bulkops.ids import id_problem
from bulkops.model import Answer, Selection
from bulkops.utc import parse_utc

PAGE_SIZE = 100  # the list call's largest page
MAX_PAGES = 100_000  # a server that never says hasMore=false must not page forever


@dataclass(frozen=True, slots=True)
class Candidate:
    """A campaign the list call returned, with what a preview shows of it."""

    id: str
    name: str
    status: str
    created_at: str
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the item


def list_body(selection: Selection, campaign_type: str, page: int) -> dict[str, Any]:
    filters: dict[str, list[Any]] = {}
    if selection.status:
        filters["status"] = list(selection.status)
    if selection.dialing_mode:
        filters["dialingMode"] = list(selection.dialing_mode)
    if selection.priority:
        filters["priority"] = list(selection.priority)
    return {
        "type": campaign_type,
        "page": page,
        "skip": (page - 1) * PAGE_SIZE,
        "limit": PAGE_SIZE,
        "sortBy": {"createdAt": "asc"},
        "filters": filters,
    }


class LocalFilter:
    """The name glob (case-insensitive) and the strict created-before cut-off."""

    def __init__(self, selection: Selection, now: datetime) -> None:
        self._name = (
            re.compile(fnmatch.translate(selection.name.lower())) if selection.name else None
        )
        self._cutoff = selection.created_before.resolve(now) if selection.created_before else None

    def __call__(self, item: dict[str, Any]) -> bool:
        if self._name is not None:
            name = item.get("name")
            if not isinstance(name, str) or not self._name.match(name.lower()):
                return False
        if self._cutoff is not None:
            created = parse_utc(item.get("createdAt"))
            if created is None or not created < self._cutoff:
                return False
        return True


def candidate(item: dict[str, Any]) -> Candidate | None:
    """Results carry ``_id`` for voice campaigns, ``id`` in some variants."""
    ident = item.get("_id", item.get("id"))
    if not isinstance(ident, str) or not ident:
        return None
    return Candidate(
        ident,
        str(item.get("name") or ""),
        str(item.get("status") or ""),
        str(item.get("createdAt") or ""),
        item,
    )


async def resolve(
    fetch_page: Callable[[dict[str, Any]], Awaitable[Answer]],
    selection: Selection,
    *,
    campaign_type: str,
    now: datetime,
    exclude: frozenset[str] = frozenset(),
    on_invalid: Callable[[str, str], None] = lambda campaign_id, problem: None,
) -> tuple[list[Candidate], int]:
    """Every matching campaign (de-duplicated, exclude applied), and the list calls made.

    An id the server returns passes the same checks as a job's ids: one that fails
    them is handed to ``on_invalid`` (id, problem) and never chosen."""
    keep = LocalFilter(selection, now)
    chosen: dict[str, Candidate] = {}
    page = 0
    while True:
        page += 1
        if page > MAX_PAGES:
            raise ApiError(f"the list call still said hasMore after {MAX_PAGES} pages")
        data = (await fetch_page(list_body(selection, campaign_type, page))).data or {}
        results = data.get("results")
        if not isinstance(results, list):
            raise ApiError(f"list call page {page}: the answer has no data.results list")
        for item in results:
            found = candidate(item) if isinstance(item, dict) else None
            if found is not None and found.id not in exclude and keep(item):
                if problem := id_problem(found.id):
                    on_invalid(found.id, problem)
                    continue
                chosen.setdefault(found.id, found)
        if not data.get("hasMore"):
            return list(chosen.values()), page
        if not results:
            raise ApiError(f"list call page {page}: empty page although hasMore is true")
