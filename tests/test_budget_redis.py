"""The Redis budget store against a real redis-server on loopback: shared, atomic, and a
run that loses Redis stops sending (exit 3) instead of going on unshared."""

from __future__ import annotations

import asyncio
import time

import pytest

from bulkops.errors import JobError, RateStoreError
from bulkops.job.rates import parse_rate_store
from bulkops.model import RunSettings, Target
from bulkops.ratelimit.budget import open_store
from bulkops.ratelimit.budget_redis import RedisStore
from tests.redis_server import RedisServer, free_port
from tests.test_slots import assert_no_window_overfull

TARGET = Target("https://kore.example", "st-app", "acc-1")


def store(url: str, target: Target = TARGET) -> RedisStore:
    made = open_store(RunSettings(rate_store=url, timeout=5), target)
    assert isinstance(made, RedisStore)
    return made


async def test_slots_are_held_until_a_window_after_the_answer(redis_server: RedisServer) -> None:
    s = store(redis_server.url)
    grant = await s.take(5, [(3, 0.5)])
    assert len(grant.tokens) == 3
    short = await s.take(1, [(3, 0.5)])
    assert short.tokens == () and short.wait == pytest.approx(0.5, abs=0.05)  # all in flight
    await s.release([(grant.tokens[0], 0.0)])
    await s.release([(grant.tokens[1], 0.0)], sent=False)  # never sent: free at once
    assert len((await s.take(2, [(3, 0.5)])).tokens) == 1
    await asyncio.sleep(0.55)
    assert len((await s.take(2, [(3, 0.5)])).tokens) == 1  # the answered one's slot
    await s.close()


async def test_machines_sharing_one_redis_never_overfill_a_window_and_share_it(
    redis_server: RedisServer,
) -> None:
    async def machine(s: RedisStore, seconds: float) -> list[float]:
        grants: list[float] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            grant = await s.take(4, [(10, 0.5), (15, 2.0)])
            for token in grant.tokens:
                grants.append(time.monotonic())
                await s.release([(token, 0.0)])
            if not grant.tokens:
                await asyncio.sleep(min(grant.wait, 0.02))
        await s.close()
        return grants

    stores = [store(redis_server.url) for _ in range(3)]
    each = await asyncio.gather(*(machine(s, 1.0) for s in stores))
    together = sorted(t for grants in each for t in grants)
    assert_no_window_overfull(together, 10, 0.5)
    assert_no_window_overfull(together, 15, 2.0)
    assert len(together) >= 15  # the 2 s window allows 15 in 1 s: all used
    assert min(map(len, each)) >= 0.2 * len(together)


async def test_accounts_do_not_share_and_preloaded_answers_count(redis_server: RedisServer) -> None:
    a, b = (
        store(redis_server.url),
        store(redis_server.url, Target("https://kore.example", "x", "acc-2")),
    )
    assert await a.preload([0.1, 0.2]) == 2
    assert len((await a.take(5, [(3, 1.0)])).tokens) == 1
    assert len((await b.take(5, [(3, 1.0)])).tokens) == 3
    await a.close()
    await b.close()


async def test_unreachable_redis_is_a_rate_store_error_without_the_password() -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    s = store(url)
    with pytest.raises(RateStoreError) as caught:
        await s.take(1, [(3, 1.0)])
    assert f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/0" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    await s.close()


def test_rate_store_values() -> None:
    assert parse_rate_store(" Local ", "f", secrets_ok=False) == "local"
    assert parse_rate_store("redis://r.internal:6380/2", "f", secrets_ok=False)
    assert parse_rate_store("redis://:pw@r:6379/0", "f", secrets_ok=True)
    for bad, problem in [
        ("redis://:pw@r:6379/0", "must not be written in the job file"),
        ("http://r:6379/0", "expected local or redis://HOST:PORT/DB"),
        ("redis://r:99999/0", "port"),
        ("redis://r:6379/zero", "database"),
        ("redis:///0", "expected local"),
    ]:
        with pytest.raises(JobError, match=problem) as caught:
            parse_rate_store(bad, "run.rate_store", secrets_ok=False)
        assert "pw" not in str(caught.value)
