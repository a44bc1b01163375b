"""The worker pool against a scripted in-memory API: outcomes, retries, stops."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import pytest

from bulkops.engine.ending import RunEnding
from bulkops.engine.pool import Action, Request, WorkerPool
from bulkops.errors import (
    ApiError,
    AuditWriteError,
    AuthError,
    NotFound,
    PermanentError,
    RateLimited,
    RetryableError,
)
from bulkops.model import Answer, Outcome, RateSpec, RunSettings
from bulkops.ratelimit.limiter import SlotLimiter
from tests.fake_clock import FakeClock
from tests.unit.ratelimit.timing import VirtualTime

FAST = RunSettings(
    concurrency=4, rates=(), max_attempts=3, backoff_initial=0.001, backoff_max=0.002, timeout=1
)


class ScriptedApi:
    """Answers each id from a script: a list of exceptions/answers consumed in order."""

    def __init__(
        self,
        scripts: dict[str, list[ApiError | None]] | None = None,
        delay: float = 0,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.scripts = {k: list(v) for k, v in (scripts or {}).items()}
        self.calls: dict[str, int] = defaultdict(int)
        self.sent_at: dict[str, list[float]] = defaultdict(list)  # by ``clock``
        self.methods: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = delay
        self._clock = clock
        self.answered = 0
        self._after: list[tuple[int, asyncio.Event]] = []

    def after_answers(self, count: int) -> asyncio.Event:
        """An event set once ``count`` requests have been answered (errors included)."""
        event = asyncio.Event()
        self._after.append((count, event))
        return event

    async def _answer(self, method: str, campaign_id: str) -> Answer:
        self.methods.append(method)
        self.calls[campaign_id] += 1
        self.sent_at[campaign_id].append(self._clock())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            script = self.scripts.get(campaign_id)
            step = script.pop(0) if script else None
            if step is not None:
                raise step
            return Answer(200, "ok", {"_id": campaign_id, "name": f"N {campaign_id}"})
        finally:
            self.in_flight -= 1
            self.answered += 1
            for count, event in self._after:
                if self.answered >= count:
                    event.set()

    async def delete(self, campaign_id: str) -> Answer:
        return await self._answer("DELETE", campaign_id)

    async def get(self, campaign_id: str) -> Answer:
        return await self._answer("GET", campaign_id)


async def run(
    api: ScriptedApi, ids: list[str], settings: RunSettings = FAST, dry_run: bool = False
) -> tuple[str, dict[str, Outcome], WorkerPool]:
    outcomes: dict[str, Outcome] = {}

    def record(o: Outcome) -> None:
        assert o.campaign_id not in outcomes, "two outcomes for one campaign"
        outcomes[o.campaign_id] = o

    ending = RunEnding()
    runner = WorkerPool(
        settings=settings, limiter=SlotLimiter(settings.rates), ending=ending,
        on_outcome=record,
    )  # fmt: skip
    await runner.settle_all(ids, action(api, dry_run))
    return ending.reason, outcomes, runner


def action(api: ScriptedApi, dry_run: bool = False) -> Action:
    """The preview's or the real run's action, as JobRun gives it to the pool."""
    if dry_run:
        return Action(api.get, "would_delete", write_ahead=False)
    return Action(api.delete, "deleted", write_ahead=True)


async def test_every_id_gets_one_outcome_and_concurrency_is_capped() -> None:
    api = ScriptedApi(delay=0.005)
    ids = [f"cd-{i}" for i in range(40)]
    reason, outcomes, _ = await run(api, ids)
    assert reason == "completed"
    assert {o.outcome for o in outcomes.values()} == {"deleted"}
    assert set(outcomes) == set(ids) and all(api.calls[i] == 1 for i in ids)
    assert api.max_in_flight == FAST.concurrency
    assert outcomes["cd-1"].campaign == {"_id": "cd-1", "name": "N cd-1"}


async def test_transient_errors_are_retried_then_succeed() -> None:
    api = ScriptedApi({"cd-1": [RetryableError("HTTP 503", status=503), RetryableError("conn")]})
    _, outcomes, runner = await run(api, ["cd-1"])
    o = outcomes["cd-1"]
    assert (o.outcome, o.attempts, o.http_status, o.error) == ("deleted", 3, 200, None)
    assert runner.stats.retries == 2


async def test_retries_used_up_fail_with_the_last_error() -> None:
    api = ScriptedApi({"cd-1": [RetryableError("HTTP 503: busy", status=503)] * 5})
    reason, outcomes, _ = await run(api, ["cd-1"])
    o = outcomes["cd-1"]
    assert (o.outcome, o.attempts, o.http_status) == ("failed", 3, 503)
    assert o.error == "gave up after 3 attempts; last: HTTP 503: busy"
    assert reason == "completed" and api.calls["cd-1"] == 3


async def test_404_is_not_found_and_not_retried() -> None:
    api = ScriptedApi({"cd-1": [NotFound("HTTP 404", status=404, message="Campaign not found")]})
    _, outcomes, _ = await run(api, ["cd-1"])
    assert (outcomes["cd-1"].outcome, outcomes["cd-1"].message) == (
        "not_found",
        "Campaign not found",
    )
    assert api.calls["cd-1"] == 1


async def test_other_4xx_fails_at_once_with_the_server_message() -> None:
    api = ScriptedApi(
        {"cd-1": [PermanentError("HTTP 400: running", status=400, message="running")]}
    )
    _, outcomes, _ = await run(api, ["cd-1"])
    o = outcomes["cd-1"]
    assert (o.outcome, o.http_status, o.message, o.attempts) == ("failed", 400, "running", 1)


async def test_401_aborts_the_run_after_in_flight_requests_settle() -> None:
    ids = [f"cd-{i}" for i in range(50)]
    api = ScriptedApi({"cd-2": [AuthError("HTTP 401: bad token", status=401)]}, delay=0.002)
    reason, outcomes, _ = await run(api, ids)
    assert reason == "aborted"
    assert outcomes["cd-2"].outcome == "failed" and outcomes["cd-2"].http_status == 401
    assert len(outcomes) < 10  # at most what was in flight when the 401 came
    assert sum(api.calls.values()) == len(outcomes)


async def test_halt_after_failures_stops_dispatching() -> None:
    ids = [f"cd-{i}" for i in range(30)]
    scripts = {i: [PermanentError("HTTP 400", status=400)] for i in ids}
    settings = replace(FAST, halt_after_failures=3, concurrency=1)
    reason, outcomes, _ = await run(ScriptedApi(scripts), ids, settings)
    assert reason == "halted" and len(outcomes) == 3


async def test_dry_run_only_gets() -> None:
    api = ScriptedApi({"cd-2": [NotFound("HTTP 404", status=404)]})
    _, outcomes, _ = await run(api, ["cd-1", "cd-2"], dry_run=True)
    assert set(api.methods) == {"GET"}
    assert outcomes["cd-1"].outcome == "would_delete" and outcomes["cd-2"].outcome == "not_found"


async def test_stop_leaves_unattempted_pending_and_waiting_retries_failed() -> None:
    settings = replace(FAST, concurrency=2, backoff_initial=5, backoff_max=5)
    api = ScriptedApi({"cd-0": [RetryableError("HTTP 503", status=503)]}, delay=0.001)
    ids = [f"cd-{i}" for i in range(20)]
    outcomes: dict[str, Outcome] = {}
    ending = RunEnding()
    runner = WorkerPool(
        settings=settings, limiter=SlotLimiter(()), ending=ending,
        on_outcome=lambda o: outcomes.__setitem__(o.campaign_id, o),
    )  # fmt: skip
    five_answered = api.after_answers(5)  # cd-0's 503 among them: its retry waits 5 s
    task = asyncio.create_task(runner.settle_all(ids, action(api)))
    await five_answered.wait()
    ending.stop("interrupted")
    await asyncio.wait_for(task, 1)
    assert ending.reason == "interrupted"
    assert outcomes["cd-0"].outcome == "failed"
    assert "stopped" in (outcomes["cd-0"].error or "")
    assert 1 < len(outcomes) < 20
    assert sum(api.calls.values()) == len(outcomes)


async def test_a_stop_gives_up_the_requests_waiting_for_their_rate_slot() -> None:
    """One request an hour: the first is sent, the others wait for a slot; a stop ends
    their wait at once, and none of them is sent or gets an outcome (they stay pending)."""
    spec = RateSpec(1, 3600.0)
    api, ending, outcomes = ScriptedApi(), RunEnding(), dict[str, Outcome]()
    limiter = SlotLimiter([spec])
    pool = WorkerPool(
        settings=replace(FAST, rates=(spec,)), limiter=limiter, ending=ending,
        on_outcome=lambda o: outcomes.__setitem__(o.campaign_id, o),
    )  # fmt: skip
    one_answered = api.after_answers(1)
    task = asyncio.create_task(pool.settle_all([f"cd-{i}" for i in range(10)], action(api)))
    await one_answered.wait()
    ending.stop("interrupted")
    await asyncio.wait_for(task, 1)
    await limiter.close()
    assert dict(api.calls) == {"cd-0": 1}
    assert list(outcomes) == ["cd-0"] and outcomes["cd-0"].outcome == "deleted"
    assert pool.stats.requests == 1


async def test_429_retry_after_is_honoured_and_slows_the_limiter() -> None:
    clock, spec = FakeClock(), RateSpec(10, 1.0)
    limiter = SlotLimiter([spec], clock=clock, sleep=clock.sleep)
    refusal = RateLimited("HTTP 429", status=429, retry_after=0.05)
    api = ScriptedApi({"cd-1": [refusal]}, clock=clock)
    runner = WorkerPool(
        settings=replace(FAST, rates=(spec,)), limiter=limiter, ending=RunEnding(), clock=clock
    )
    await runner.settle_all(["cd-1"], action(api))
    assert runner.stats.rate_limited == 1
    # the retry left once the limiter's pause for Retry-After was over ...
    first, retry = api.sent_at["cd-1"]
    assert retry - first == pytest.approx(0.05)
    # ... and the limiter now allows fewer requests per window than the spec
    assert limiter.caps() == [(8, 1000)]  # (count, window in ms)


def test_a_delete_whose_sent_line_cannot_be_written_is_not_sent_and_the_run_aborts() -> None:
    api = ScriptedApi({"c1": [RetryableError("HTTP 503", status=503)]}, delay=0.01)
    written: list[str] = []

    def write_ahead(campaign_id: str) -> None:
        if len(written) == 4:  # the disk fills up at the fifth request
            raise AuditWriteError("the audit log a.jsonl could not be written: No space left")
        written.append(campaign_id)

    ending = RunEnding()

    async def go() -> None:
        pool = WorkerPool(
            settings=FAST, limiter=SlotLimiter(()), ending=ending, before_send=write_ahead
        )
        await pool.settle_all([f"c{i}" for i in range(20)], action(api))

    asyncio.run(go())
    end = ending.end()
    assert end.reason == "aborted" and end.error is not None and "No space" in end.error
    sent = [m for m in api.methods if m == "DELETE"]
    assert len(sent) == len(written) == 4  # every DELETE sent had its line first; none after
    assert sorted(c for c, n in api.calls.items() for _ in range(n)) == sorted(written)


async def test_a_stop_first_delete_as_the_very_first_request_does_not_deadlock_the_gate() -> None:
    """The Stop call is a request of its own: it passes the first-contact gate and is
    answered before the DELETE enters it; the DELETE never waits inside the gate for it."""
    api = ScriptedApi()
    sent: list[str] = []

    async def stop(campaign_id: str, request: Request) -> None:
        if campaign_id != "c1":
            return  # only c1 is stopped first
        sent.append(f"STOP {campaign_id}")
        await request(lambda: api.get(campaign_id))

    async def delete(campaign_id: str) -> Answer:
        sent.append(f"DELETE {campaign_id}")
        return await api.delete(campaign_id)

    outcomes: list[Outcome] = []
    pool = WorkerPool(settings=FAST, limiter=SlotLimiter(()), ending=RunEnding(),
                      on_outcome=outcomes.append)  # fmt: skip
    first = Action(delete, "deleted", write_ahead=True, first=stop)
    await asyncio.wait_for(pool.settle_all(["c1", "c2"], first), 2)
    assert sent.index("STOP c1") < sent.index("DELETE c1")
    assert sorted(o.outcome for o in outcomes) == ["deleted", "deleted"]
    assert pool.stats.requests == 3


async def test_stop_then_delete_at_one_a_second_takes_one_slot_a_request_and_no_more() -> None:
    """Four Stop-first campaigns at 1/s, two in flight: eight requests, one each second of
    virtual time, each Stop answered before its DELETE; no slot held while waiting."""
    clock, spec = VirtualTime(), RateSpec(1, 1.0)
    api = ScriptedApi(clock=clock)
    sent: list[tuple[float, str]] = []

    async def stop(campaign_id: str, request: Request) -> Outcome | None:
        await request(lambda: api.get(campaign_id))
        sent.append((clock.now, f"STOP {campaign_id}"))
        return None  # the Stop done: the DELETE goes

    async def delete(campaign_id: str) -> Answer:
        sent.append((clock.now, f"DELETE {campaign_id}"))
        return await api.delete(campaign_id)

    ids = [f"c{i}" for i in range(4)]
    pool = WorkerPool(
        settings=replace(FAST, rates=(spec,), concurrency=2), ending=RunEnding(), clock=clock,
        limiter=SlotLimiter([spec], clock=clock, sleep=clock.sleep),
    )  # fmt: skip
    stop_first = Action(delete, "deleted", write_ahead=True, first=stop)
    work = asyncio.ensure_future(pool.settle_all(ids, stop_first))
    await clock.run(work)
    await work
    starts = sorted(t for times in api.sent_at.values() for t in times)
    assert [t for t in starts] == pytest.approx(list(range(8)), abs=0.01)
    for campaign_id in ids:
        order = [what for _, what in sent if what.endswith(f" {campaign_id}")]
        assert order == [f"STOP {campaign_id}", f"DELETE {campaign_id}"]
    assert pool.stats.requests == 8
