"""The pool asks the action right before each call, and again if that went stale meanwhile."""

from __future__ import annotations

from bulkops.engine.ending import RunEnding
from bulkops.engine.pool import Action, Request, WorkerPool
from bulkops.model import Answer, Outcome, RunSettings
from bulkops.ratelimit.limiter import SlotLimiter

FAST = RunSettings(concurrency=1, rates=(), max_attempts=2, backoff_initial=0.01,
                   backoff_max=0.01, protect_status=())  # fmt: skip


async def test_a_decision_stale_when_the_slot_comes_is_made_again_before_sending() -> None:
    sent: list[str] = []
    decided: list[str] = []
    staleness = iter([True, False])  # stale the first time the slot is granted

    async def delete(campaign_id: str) -> Answer:
        sent.append(campaign_id)
        return Answer(200, "ok", {})

    async def first(campaign_id: str, request: Request) -> Outcome | None:
        decided.append(campaign_id)
        return None

    outcomes: list[Outcome] = []
    pool = WorkerPool(settings=FAST, limiter=SlotLimiter(()), ending=RunEnding(),
                      on_outcome=outcomes.append)  # fmt: skip
    action = Action(delete, "deleted", write_ahead=True, first=first,
                    stale=lambda: next(staleness))  # fmt: skip
    await pool.settle_all(["c1"], action)
    assert decided == ["c1", "c1"] and sent == ["c1"]
    assert [o.outcome for o in outcomes] == ["deleted"] and pool.stats.requests == 1


async def test_an_outcome_from_the_decision_settles_the_campaign_without_its_call() -> None:
    async def delete(campaign_id: str) -> Answer:
        raise AssertionError("a protected campaign is never sent")

    async def first(campaign_id: str, request: Request) -> Outcome | None:
        return Outcome(campaign_id, "protected", None, 0, 0, None, None, {"status": "Active"})

    outcomes: list[Outcome] = []
    pool = WorkerPool(settings=FAST, limiter=SlotLimiter(()), ending=RunEnding(),
                      on_outcome=outcomes.append)  # fmt: skip
    await pool.settle_all(["c1"], Action(delete, "deleted", write_ahead=True, first=first))
    assert [o.outcome for o in outcomes] == ["protected"] and pool.stats.requests == 0
