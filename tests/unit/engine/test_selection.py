"""Choosing campaigns: list bodies per filter, the local filters, and paging in resolve()."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bulkops.engine import selection
from bulkops.engine.selection import LocalFilter, candidate, list_body, resolve
from bulkops.errors import AbortError, ApiError
from bulkops.model import Answer, CreatedBefore, Selection

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def test_list_body_without_filters_asks_for_oldest_first_pages_of_100() -> None:
    assert list_body(Selection(), "voice", 1) == {
        "type": "voice", "page": 1, "skip": 0, "limit": 100,
        "sortBy": {"createdAt": "asc"}, "filters": {},
    }  # fmt: skip
    assert list_body(Selection(), "voice", 3)["skip"] == 200


@pytest.mark.parametrize(
    ("chosen", "filters"),
    [
        (Selection(status=("Completed", "Draft")), {"status": ["Completed", "Draft"]}),
        (Selection(dialing_mode=("Preview",)), {"dialingMode": ["Preview"]}),
        (Selection(priority=(1, 3)), {"priority": [1, 3]}),
        # name and age are not the server's business: they never reach the body
        (Selection(name="Q1*", created_before=CreatedBefore(age=timedelta(days=1))), {}),
    ],
)
def test_list_body_carries_each_server_side_filter(
    chosen: Selection, filters: dict[str, list[Any]]
) -> None:
    assert list_body(chosen, "voice", 1)["filters"] == filters


def test_list_body_uses_the_targets_campaign_type() -> None:
    body = list_body(Selection(status=("Completed",)), "sms", 2)
    assert (body["type"], body["page"], body["skip"], body["limit"]) == ("sms", 2, 100, 100)


def test_name_glob_matches_case_insensitively_and_whole_names_only() -> None:
    keep = LocalFilter(Selection(name="Spring-*"), NOW)
    assert keep({"name": "spring-sale"}) and keep({"name": "SPRING-"})
    assert not keep({"name": "old spring-sale"})  # the glob is anchored at the start
    assert not keep({"name": "Summer"})
    assert not keep({}) and not keep({"name": None}) and not keep({"name": 7})


def test_created_before_is_strict_and_missing_or_bad_dates_never_match() -> None:
    cutoff = datetime(2025, 1, 1, tzinfo=timezone.utc)
    keep = LocalFilter(Selection(created_before=CreatedBefore(instant=cutoff)), NOW)
    assert keep({"createdAt": "2024-12-31T23:59:59.999Z"})
    assert not keep(
        {"createdAt": "2025-01-01T00:00:00.000Z"}
    )  # exactly the cut-off is not before it
    assert not keep({"createdAt": "2025-01-01T00:00:00.001Z"})
    assert keep({"createdAt": "2025-01-01T00:59:59+01:00"})  # an offset is honoured
    for bad in ({}, {"createdAt": None}, {"createdAt": ""}, {"createdAt": "yesterday"},
                {"createdAt": 1700000000}):  # fmt: skip
        assert not keep(bad), bad


def test_created_before_an_age_counts_back_from_the_runs_start() -> None:
    keep = LocalFilter(Selection(created_before=CreatedBefore(age=timedelta(days=30))), NOW)
    assert keep({"createdAt": (NOW - timedelta(days=30, seconds=1)).isoformat()})
    assert not keep({"createdAt": (NOW - timedelta(days=29)).isoformat()})


def test_both_local_filters_must_match() -> None:
    cutoff = CreatedBefore(instant=datetime(2025, 1, 1, tzinfo=timezone.utc))
    keep = LocalFilter(Selection(name="old*", created_before=cutoff), NOW)
    assert keep({"name": "Old one", "createdAt": "2024-05-01T00:00:00Z"})
    assert not keep({"name": "Old one", "createdAt": "2025-05-01T00:00:00Z"})
    assert not keep({"name": "New one", "createdAt": "2024-05-01T00:00:00Z"})


def test_candidate_reads_underscore_id_or_id_and_refuses_anything_else() -> None:
    item = {"_id": "cd-1", "name": "N", "status": "Completed", "createdAt": "2024-01-01T00:00:00Z"}
    assert candidate(item) == selection.Candidate("cd-1", "N", "Completed", "2024-01-01T00:00:00Z")
    assert candidate({"id": "cd-2"}) == selection.Candidate("cd-2", "", "", "")
    assert candidate({"_id": "cd-3", "id": "other"}) == selection.Candidate("cd-3", "", "", "")
    for bad in ({}, {"_id": ""}, {"_id": 42}, {"id": None}, {"_id": ["cd-1"]}):
        assert candidate(bad) is None, bad


class Pages:
    """A list endpoint answering from a list of ``data`` objects, one per call."""

    def __init__(self, *pages: dict[str, Any] | None) -> None:
        self.pages = list(pages)
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, body: dict[str, Any]) -> Answer:
        self.bodies.append(body)
        return Answer(200, "ok", self.pages[len(self.bodies) - 1])


def page(*ids: str, more: bool) -> dict[str, Any]:
    return {"results": [{"_id": i, "name": f"N {i}", "status": "Completed"} for i in ids],
            "hasMore": more}  # fmt: skip


async def test_resolve_pages_until_has_more_is_false() -> None:
    fetch = Pages(page("a", "b", more=True), page("c", more=True), page("d", more=False))
    chosen, calls = await resolve(fetch, Selection(status=("Completed",)), campaign_type="voice",
                                  now=NOW)  # fmt: skip
    assert [c.id for c in chosen] == ["a", "b", "c", "d"] and calls == 3
    assert [b["page"] for b in fetch.bodies] == [1, 2, 3]
    assert all(b["filters"] == {"status": ["Completed"]} for b in fetch.bodies)


async def test_resolve_applies_exclude_local_filters_and_drops_repeats_across_pages() -> None:
    fetch = Pages(
        {"results": [{"_id": "a", "name": "keep a"}, {"_id": "x", "name": "keep x"},
                     {"_id": "b", "name": "other"}, "not an object", {"name": "keep no id"}],
         "hasMore": True},
        {"results": [{"_id": "a", "name": "keep a"}, {"id": "c", "name": "KEEP c"}],
         "hasMore": False},
    )  # fmt: skip
    chosen, calls = await resolve(fetch, Selection(name="keep*"), campaign_type="voice", now=NOW,
                                  exclude=frozenset({"x"}))  # fmt: skip
    assert [c.id for c in chosen] == ["a", "c"] and calls == 2


async def test_an_empty_page_that_says_has_more_is_an_error_not_a_loop() -> None:
    fetch = Pages(page("a", more=True), page(more=True), page("never asked", more=False))
    with pytest.raises(ApiError, match="page 2: empty page although hasMore is true"):
        await resolve(fetch, Selection(), campaign_type="voice", now=NOW)
    assert len(fetch.bodies) == 2


async def test_an_answer_without_a_results_list_is_an_error() -> None:
    for data in (None, {}, {"results": "a,b", "hasMore": False}):
        with pytest.raises(ApiError, match="page 1: the answer has no data.results list"):
            await resolve(Pages(data), Selection(), campaign_type="voice", now=NOW)


async def test_a_server_that_always_has_more_stops_at_max_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(selection, "MAX_PAGES", 5)
    fetch = Pages(*[page(f"c{i}", more=True) for i in range(10)])
    with pytest.raises(ApiError, match="still said hasMore after 5 pages"):
        await resolve(fetch, Selection(), campaign_type="voice", now=NOW)
    assert len(fetch.bodies) == 5


async def test_has_more_counts_only_as_the_json_value_true() -> None:
    for more in ("false", "true", 1, None, [True]):
        fetch = Pages({"results": [{"_id": "a"}], "hasMore": more}, page("b", more=False))
        chosen, calls = await resolve(fetch, Selection(), campaign_type="voice", now=NOW)
        assert [c.id for c in chosen] == ["a"] and calls == 1


async def test_a_page_with_no_new_id_aborts_the_listing() -> None:
    fetch = Pages(page("a", "b", more=True), page("b", "a", more=True), page("c", more=False))
    with pytest.raises(AbortError, match="page 2: hasMore is true, but the page brings no new"):
        await resolve(fetch, Selection(name="nothing matches"), campaign_type="voice", now=NOW)
    assert len(fetch.bodies) == 2


async def test_pages_beyond_what_total_results_fills_abort_the_listing() -> None:
    first = {**page("a", "b", more=True), "totalResults": 3}
    fetch = Pages(first, page("c", more=True), page("d", more=True))
    with pytest.raises(AbortError, match=r"the 3 campaigns .*\(totalResults\) fit in 2 pages"):
        await resolve(fetch, Selection(), campaign_type="voice", now=NOW)
    assert len(fetch.bodies) == 2
    honest = Pages({**page("a", "b", more=True), "totalResults": 3}, page("c", more=False))
    chosen, _ = await resolve(honest, Selection(), campaign_type="voice", now=NOW)
    assert [c.id for c in chosen] == ["a", "b", "c"]


async def test_a_cap_stops_the_listing_once_more_are_chosen() -> None:
    fetch = Pages(page("a", "b", more=True), page("c", "d", more=True), page("e", more=False))
    chosen, calls = await resolve(fetch, Selection(), campaign_type="voice", now=NOW, cap=2)
    assert [c.id for c in chosen] == ["a", "b", "c"] and calls == 2
