"""How a run learns about its ids: listing or a GET each, whichever costs fewer requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from job_factory import make_job

from bulkops.engine.prepare import learn, prepare_delete
from bulkops.errors import ApiError, NotFound
from bulkops.model import Answer


class FakeList:
    """A list API over ``ids`` (``per_page`` a page); remembers the pages asked for."""

    def __init__(self, ids: list[str], *, per_page: int = 100, totals: bool = True) -> None:
        self.ids, self.per_page, self.totals = ids, per_page, totals
        self.pages: list[int] = []

    async def __call__(self, body: dict[str, Any]) -> Answer:
        page = body["page"]
        self.pages.append(page)
        chunk = self.ids[(page - 1) * self.per_page : page * self.per_page]
        data: dict[str, Any] = {
            "results": [{"_id": i, "status": "Active"} for i in chunk],
            "hasMore": page * self.per_page < len(self.ids),
        }
        if self.totals:
            data["totalPages"] = -(-len(self.ids) // self.per_page)
        return Answer(200, None, data)


async def learned(ids: list[str], account: FakeList) -> tuple[Any, list[str]]:
    said: list[str] = []
    known = await learn(
        ids, statuses=(), campaign_type="voice", fetch_page=account, say=said.append
    )
    return known, said


async def test_one_id_is_a_single_get() -> None:
    account = FakeList(["a"])
    known, said = await learned(["a"], account)
    assert account.pages == [] and known.unlisted == ["a"]
    assert said == ["preview: 1 GET request"]


async def test_a_small_account_is_listed_whole_and_absent_ids_are_known_absent() -> None:
    account = FakeList(["a", "b", "c"])
    known, said = await learned(["a", "c", "zz"], account)
    assert account.pages == [1] and known.complete and set(known.items) == {"a", "c"}
    assert said[-1] == "preview: 1 list call in all, instead of 3 GETs"


async def test_listing_goes_on_while_it_costs_fewer_requests_than_the_gets() -> None:
    account = FakeList([f"c{i}" for i in range(50)], per_page=10)  # 5 pages
    ids = [f"c{i}" for i in range(10, 50, 3)]  # 14 ids, none on page 1
    known, said = await learned(ids, account)
    assert account.pages == [1, 2, 3, 4, 5] and known.complete and set(known.items) == set(ids)
    assert (
        said[1] == "preview: 4 more list calls cost fewer requests than 14 GETs: 5 requests in all"
    )


async def test_a_big_account_gets_each_id_instead() -> None:
    account = FakeList([f"c{i}" for i in range(1000)], per_page=10)  # 100 pages
    known, said = await learned(["c5", "c500", "c900"], account)
    assert account.pages == [1] and not known.complete
    assert set(known.items) == {"c5"} and known.unlisted == ["c500", "c900"]
    assert said[-1] == (
        "preview: 2 GETs cost fewer requests than listing on (99 more pages): 3 requests in all"
    )


async def test_an_answer_without_page_totals_falls_back_to_gets() -> None:
    account = FakeList([f"c{i}" for i in range(30)], per_page=10, totals=False)
    known, _ = await learned(["c15", "c25"], account)
    assert account.pages == [1] and known.unlisted == ["c15", "c25"]


async def test_a_real_run_gets_the_statuses_the_listing_left_and_skips_the_gone(
    tmp_path: Path,
) -> None:
    account = FakeList([f"c{i}" for i in range(1000)], per_page=10)  # all Active, 100 pages
    asked: list[str] = []

    async def get_one(campaign_id: str) -> Answer:
        asked.append(campaign_id)
        if campaign_id == "gone":
            raise NotFound("HTTP 404: not found", status=404)
        return Answer(200, None, {"_id": campaign_id, "status": "Stopped"})

    job = make_job(tmp_path, ids=("c3", "x1", "gone"), protect_status=("Active",))
    work = await prepare_delete(
        job, list(job.campaign_ids), None, fetch_page=account, get_one=get_one, say=print
    )
    assert account.pages == [1] and sorted(asked) == ["gone", "x1"]
    assert [(o.campaign_id, o.outcome, o.attempts) for o in work.settled] == [
        ("c3", "protected", 0)
    ]
    assert work.send == ["x1", "gone"]  # a Stopped one is deleted; a gone one's DELETE says so


async def test_an_empty_page_that_says_there_is_more_is_an_error_not_a_loop() -> None:
    async def endless(body: dict[str, Any]) -> Answer:
        return Answer(200, None, {"results": [], "hasMore": True, "totalPages": 10**6})

    with pytest.raises(ApiError, match="empty page although hasMore"):
        await learn(["a", "b"], statuses=(), campaign_type="voice", fetch_page=endless,
                    say=lambda text: None)  # fmt: skip
