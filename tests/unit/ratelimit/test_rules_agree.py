"""One statement of the rules: the Python book and the Lua script grant the very same slots.

Random sequences of steps by three runs (take, answer or give back unsent,
preload history, leave, or fall silent until their lease lapses) go to a
``SlotBook`` and to ``slots.lua`` on a real redis-server on loopback, with the
same times; every grant (tokens and wait) must be equal.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkops.ratelimit.budget import SCRIPT
from bulkops.ratelimit.slots import OWNER_TTL, Ask, SlotBook
from tests.redis_server import RedisServer

CAPS = [[(3, 1000)], [(3, 1000), (5, 3000)], [(300, 1000)], [(2, 500), (250, 2000)]]

# clock advances (ms) right at the edges of windows, wanting marks and leases; a clock set back
EDGES = [0, 1, 499, 500, 501, 999, 1000, 1001, 2000, 2001, 9_500, OWNER_TTL, OWNER_TTL + 1, -1,
         -3_000]  # fmt: skip
one_step = st.fixed_dictionaries({
    "owner": st.integers(0, 2),
    "advance": st.integers(0, 400) | st.sampled_from(EDGES),
    "want": st.integers(0, 6),
    "more": st.integers(0, 300),
    "caps": st.integers(0, len(CAPS) - 1),
    "answer": st.lists(st.tuples(st.integers(0, 20), st.integers(0, 600), st.booleans()),
                       max_size=4),
    "history": st.lists(st.integers(-5, 5) | st.integers(0, 5000), max_size=5),
})  # fmt: skip
leave_now = st.integers(0, 9)  # a step whose draw is 0 leaves instead of taking


@pytest.fixture
def lua(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


_keys = itertools.count()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(one_step, leave_now), min_size=1, max_size=40))
def test_python_and_lua_grant_the_same_slots(
    lua: redis.Redis, steps: list[tuple[dict[str, Any], int]]
) -> None:
    script, key = lua.register_script(SCRIPT), f"agree:{next(_keys)}"
    book, now = SlotBook(), 1_700_000_000_000
    held: dict[str, list[str]] = {"p0": [], "p1": [], "p2": []}
    for s, leave in steps:
        now += s["advance"]
        owner = f"p{s['owner']}"
        answers = []
        for pick, ago, sent in s["answer"]:
            if held[owner]:
                answers.append((held[owner].pop(pick % len(held[owner])), ago, sent))
        ask = Ask(s["want"], CAPS[s["caps"]], answers, s["history"], leave == 0, owner, 30_000,
                  s["more"])  # fmt: skip
        python = book.step(now, ask)
        reply = script(keys=[key], args=[str(now), json.dumps(dataclasses.asdict(ask))])
        lua_tokens = tuple(t.decode() for t in reply[1:])
        assert (lua_tokens, int(reply[0])) == (python.tokens, python.wait), (now, s)
        held[owner] += python.tokens
