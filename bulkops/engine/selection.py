"""Choosing campaigns through the list API: the request bodies, paging, and the local filters.

Server-side filters (status, dialing mode, priority) go in the list call's
body, and are checked again here on every listed campaign: one they do not
match (a server or gateway that ignored them) is left alone and reported. The
name glob and the age cut-off are applied here only. The whole selection
is resolved before anything is deleted: deleting while paging shifts pages.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bulkops.engine.guards import status_of
from bulkops.errors import AbortError, ApiError
from bulkops.ids import id_problem, shown
from bulkops.model import Answer, Selection
from bulkops.utc import parse_utc

PAGE_SIZE = 100  # the list call's largest page
MAX_PAGES = 100_000  # a server that never says hasMore=false must not page forever
_STOPPED = "the server is not paging as it says: listing stopped, nothing deleted"


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


class ServerFilter:
    """The list call's filters checked again on a listed item: the first one it fails."""

    def __init__(self, selection: Selection) -> None:
        self._checks: list[tuple[str, Callable[[dict[str, Any]], bool]]] = []
        if selection.status:
            self._checks.append(("select.status", lambda item: status_of(item) in selection.status))
        if selection.dialing_mode:
            modes = {mode.lower() for mode in selection.dialing_mode}
            self._checks.append(
                ("select.dialing_mode", lambda item: _word(item, "dialingMode") in modes)
            )
        if selection.priority:
            levels = {str(level) for level in selection.priority}
            self._checks.append(("select.priority", lambda item: _word(item, "priority") in levels))

    def missed(self, item: dict[str, Any]) -> str | None:
        """The field whose filter the item does not match (the server ignored it), or None."""
        return next((name for name, ok in self._checks if not ok(item)), None)


class Unfiltered:
    """Listed campaigns a list filter should have left out: left alone, and said once."""

    def __init__(self, warn: Callable[[str, str], None]) -> None:
        self._warn = warn
        self._by_field: dict[str, list[str]] = {}

    def add(self, campaign_id: str, field: str) -> None:
        self._by_field.setdefault(field, []).append(campaign_id)

    def say(self) -> None:
        for name, ids in self._by_field.items():
            self._warn(
                "server_ignored_filter",
                f"the server ignored the list call's filter {name}: {len(ids)} listed "
                f"campaign{'s' * (len(ids) != 1)} it does not match (e.g. {shown(ids[0])}) "
                f"{'are' if len(ids) != 1 else 'is'} left alone, not touched",
            )


def _word(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).strip().lower()


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
    on_unfiltered: Callable[[str, str], None] = lambda campaign_id, field: None,
    cap: int | None = None,
) -> tuple[list[Candidate], int]:
    """Every matching campaign (de-duplicated, exclude applied), and the list calls made.

    An id the server returns passes the same checks as a job's ids: one that fails
    them is handed to ``on_invalid`` (id, problem) and never chosen; one the server's
    filters should have left out goes to ``on_unfiltered`` (id, field). Paging goes on
    only while ``hasMore`` is the JSON value true, and must progress: a page that
    brings no new id, or more pages than ``totalResults`` allows, raises AbortError.
    With ``cap``, listing stops as soon as more than ``cap`` campaigns are chosen:
    the list returned then holds ``cap + 1`` of them."""
    keep, server = LocalFilter(selection, now), ServerFilter(selection)
    chosen: dict[str, Candidate] = {}
    paging = Paging()
    while True:
        page = paging.pages + 1
        data = (await fetch_page(list_body(selection, campaign_type, page))).data or {}
        results = data.get("results")
        if not isinstance(results, list):
            raise ApiError(f"list call page {page}: the answer has no data.results list")
        for item in results:
            found = candidate(item) if isinstance(item, dict) else None
            if found is not None and found.id not in exclude and keep(item):
                if field := server.missed(item):
                    on_unfiltered(found.id, field)
                    continue
                if problem := id_problem(found.id):
                    on_invalid(found.id, problem)
                    continue
                chosen.setdefault(found.id, found)
                if cap is not None and len(chosen) > cap:
                    return list(chosen.values()), page
        if paging.turn(data, results):
            return list(chosen.values()), page


class Paging:
    """Whether a listing goes on: only on ``hasMore: true``, and only while it progresses."""

    def __init__(self) -> None:
        self.pages = 0
        self._seen: set[str] = set()  # every id listed, chosen or not
        self._total: Any = None  # the first page's ``totalResults``
        self._most: int | None = None  # pages it fills at the first page's size

    def turn(self, data: dict[str, Any], results: list[Any]) -> bool:
        """True when the page just read was the last; AbortError when paging must stop."""
        self.pages += 1
        page, before = self.pages, len(self._seen)
        self._seen.update(i for i in map(_item_id, results) if i is not None)
        if page == 1:
            self._total = data.get("totalResults")
            self._most = _pages_allowed(self._total, len(results))
        if data.get("hasMore") is not True:
            return True
        if len(self._seen) == before:
            what = "empty page although hasMore is true" if not results else (
                "hasMore is true, but the page brings no new campaign id"
            )  # fmt: skip
            raise AbortError(f"list call page {page}: {what}; {_STOPPED}")
        if page >= MAX_PAGES:
            raise AbortError(
                f"the list call still said hasMore after {MAX_PAGES} pages; {_STOPPED}"
            )
        if self._most is not None and page >= self._most:
            raise AbortError(
                f"list call page {page}: hasMore is still true, but the {self._total} campaigns "
                f"the server counts (totalResults) fit in {self._most} "
                f"page{'s' * (self._most > 1)}; {_STOPPED}"
            )
        return False


def _item_id(item: Any) -> str | None:
    ident = item.get("_id", item.get("id")) if isinstance(item, dict) else None
    return ident if isinstance(ident, str) else None


def _pages_allowed(total: Any, page_size: int) -> int | None:
    """Pages that ``totalResults`` campaigns fill at this page size; None if not a count."""
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        return None
    return max(1, -(-total // max(1, page_size)))
