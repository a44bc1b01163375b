"""The Redis budget store against a real redis-server on loopback: shared, atomic, one round
trip a step, and a Redis that cannot be used stops the run instead of going on unshared.
Exact times come from a controlled clock handed to the script; no test sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from bulkops.errors import JobError, RateStoreError
from bulkops.job.rates import parse_rate_store
from bulkops.model import RateSpec, RunSettings, Target
from bulkops.ratelimit.budget import RedisStore, open_store
from bulkops.ratelimit.limiter import SlotLimiter
from bulkops.ratelimit.slots import Ask
from tests.redis_server import RedisServer, free_port
from tests.unit.ratelimit.timing import assert_no_window_overfull

TARGET = Target("https://kore.example", "st-app", "acc-1")


def store(
    url: str, target: Target = TARGET, clock: Callable[[], float] | None = None
) -> RedisStore:
    if clock is not None:
        return RedisStore(url, target, lease=15.0, clock=clock)
    made = open_store(RunSettings(rate_store=url, timeout=5), target)
    assert isinstance(made, RedisStore)
    return made


async def test_slots_are_held_until_a_window_after_the_answer(redis_server: RedisServer) -> None:
    now = [1_800_000_000.0]
    s = store(redis_server.url, clock=lambda: now[0])
    grant = await s.step(Ask(5, [(3, 500)]))
    assert len(grant.tokens) == 3
    short = await s.step(Ask(1, [(3, 500)]))
    assert short.tokens == () and short.wait == 500  # all in flight
    told = [(grant.tokens[0], 0, True), (grant.tokens[1], 0, False)]  # answered; never sent
    assert len((await s.step(Ask(2, [(3, 500)], told))).tokens) == 1
    now[0] += 0.5
    assert (await s.step(Ask(2, [(3, 500)]))).tokens == ()
    now[0] += 0.001
    assert len((await s.step(Ask(2, [(3, 500)]))).tokens) == 1  # the answered one's slot
    await s.close()


async def test_a_step_is_one_round_trip_however_many_answers_it_tells(
    redis_server: RedisServer,
) -> None:
    s = store(redis_server.url)
    grant = await s.step(Ask(8, [(8, 1000)]))  # the first step also loads the script
    watch = redis.Redis.from_url(redis_server.url)

    def calls() -> dict[str, int]:
        return {k: v["calls"] for k, v in watch.info("commandstats").items()}

    before = calls()
    await s.step(Ask(4, [(8, 1000)], [(t, 0, True) for t in grant.tokens]))
    after = calls()
    run = {k.removeprefix("cmdstat_"): n - before.get(k, 0) for k, n in after.items()}
    # one EVALSHA from us (and the GET, TIME and SET inside it), plus our own INFO
    assert {k: n for k, n in run.items() if n} == {"evalsha": 1, "get": 1, "time": 1,
                                                   "set": 1, "info": 1}  # fmt: skip
    watch.close()
    await s.close()


async def test_machines_sharing_one_redis_never_overfill_a_window_and_share_it(
    redis_server: RedisServer,
) -> None:
    async def machine(lim: SlotLimiter, seconds: float) -> list[float]:
        grants: list[float] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ticket = await lim.acquire()
            grants.append(time.monotonic())
            lim.release(ticket)
        await lim.close()
        return grants

    specs = [RateSpec(10, 0.5), RateSpec(15, 2.0)]
    limiters = [SlotLimiter(specs, store=store(redis_server.url)) for _ in range(3)]
    each = await asyncio.gather(*(machine(lim, 1.0) for lim in limiters))
    together = sorted(t for grants in each for t in grants)
    assert_no_window_overfull(together, 10, 0.5)
    assert_no_window_overfull(together, 15, 2.0)
    assert len(together) >= 15  # the 2 s window allows 15 in 1 s: all used
    assert min(map(len, each)) >= 0.2 * len(together)


async def test_accounts_do_not_share_and_preloaded_answers_count(redis_server: RedisServer) -> None:
    a = store(redis_server.url)
    b = store(redis_server.url, Target("https://kore.example", "x", "acc-2"))
    assert len((await a.step(Ask(5, [(3, 1000)], history=[100, 200]))).tokens) == 1
    assert len((await b.step(Ask(5, [(3, 1000)]))).tokens) == 3
    await a.close()
    await b.close()


async def test_unreachable_redis_is_a_rate_store_error_without_the_password() -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    s = store(url)
    with pytest.raises(RateStoreError) as caught:
        await s.step(Ask(1, [(3, 1000)]))
    assert f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/0" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    await s.close()


async def test_a_redis_that_refuses_time_in_scripts_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path, "--rename-command", "TIME", "")  # as ElastiCache Serverless
    try:
        s = store(server.url)
        with pytest.raises(RateStoreError, match="it refuses TIME in scripts"):
            await s.step(Ask(1, [(3, 1000)]))
        await s.close()
    finally:
        server.stop()


def test_rate_store_values() -> None:
    assert parse_rate_store(" Local ", "f", secrets_ok=False) == "local"
    assert parse_rate_store("redis://r.internal:6380/2", "f", secrets_ok=False)
    assert parse_rate_store("redis://:pw@r:6379/0", "f", secrets_ok=True)
    for bad, problem in [
        ("redis://:pw@r:6379/0", "must not be written in the job file"),
        ("redis://user@r:6379/0", "must not be written in the job file"),
        ("redis://r:6379/0?password=pw", "must not be written in the job file"),
        ("http://r:6379/0", "expected local or redis://HOST:PORT/DB"),
        ("redis://r:99999/0", "port"),
        ("redis://r:6379/zero", "database"),
        ("redis:///0", "expected local"),
    ]:
        with pytest.raises(JobError, match=problem) as caught:
            parse_rate_store(bad, "run.rate_store", secrets_ok=False)
        assert "pw" not in str(caught.value)
    for bad in ("redis://r/0?socket_timeout=abc", "redis://r/0?bogus=1", "redis://:pw@r/0?x=1"):
        with pytest.raises(JobError, match="options after") as caught:
            parse_rate_store(bad, "BULKOPS_RATE_STORE", secrets_ok=True)
        assert "pw" not in str(caught.value)
