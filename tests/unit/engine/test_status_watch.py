"""``StatusWatch``: decisions before a DELETE rest on statuses no older than status_max_age."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bulkops.engine.watch import StatusWatch
from bulkops.model import Answer, RunSettings

RUN = RunSettings(protect_status=("Active",), status_max_age=2.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Server:
    """What a look (a list call filtered on Active) answers, and who asked about what."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.asked: list[list[str]] = []

    async def look(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.asked.append(list(ids))
        return {i: {"_id": i, "status": "Active"} for i in ids if i in self.active}


async def never(call: Any) -> Answer:
    raise AssertionError("no request expected")


def watch(clock: Clock, server: Server, items: dict[str, dict[str, Any]]) -> StatusWatch:
    return StatusWatch(RUN, ["a", "b", "c"], items, seen_at=clock(), look=server.look,
                       say=lambda text: None, clock=clock)  # fmt: skip


async def test_a_fresh_status_is_used_as_it_is_without_a_look() -> None:
    clock, server = Clock(), Server()
    w = watch(clock, server, {})
    clock.now += 2.0
    assert not w.stale()
    assert await w.decide("a", never, None) is None
    assert server.asked == [] and w.looks == 0


async def test_an_old_status_is_looked_at_again_once_for_the_campaigns_not_yet_settled() -> None:
    clock, server = Clock(), Server()
    w = watch(clock, server, {})
    w.settled("a")
    server.active = {"b"}  # went Active after the run's first look
    clock.now += 2.5
    assert w.stale()
    kept = await w.decide("b", never, None)
    assert kept is not None and (kept.outcome, kept.attempts) == ("protected", 0)
    assert await w.decide("c", never, None) is None
    assert server.asked == [["b", "c"]] and w.looks == 1 and not w.stale()


async def test_a_status_it_cannot_read_is_protected() -> None:
    clock, server = Clock(), Server()
    w = watch(clock, server, {"a": {"_id": "a", "status": " ACTIVE"}, "b": {"_id": "b"}})
    for campaign_id in ("a", "b"):
        kept = await w.decide(campaign_id, never, None)
        assert kept is not None and kept.outcome == "protected"
