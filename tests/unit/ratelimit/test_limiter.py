"""The limiter against a fake clock: no sleeping, times exact to the book's 1 ms.

Each request here is answered the instant it is sent (``take``), so a slot
frees exactly one window after its start; test_slots.py adds delays."""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import pytest

from bulkops.engine.machinery import answer_ages
from bulkops.model import RateSpec
from bulkops.ratelimit.budget import MemoryStore
from bulkops.ratelimit.limiter import NO_SLOT, SlotLimiter
from bulkops.ratelimit.slots import Ask, Grant
from bulkops.sandbox.state import RollingWindows
from tests.fake_clock import FakeClock
from tests.unit.ratelimit.timing import VirtualTime


def ms(expected: object, windows: int = 1) -> object:
    """``expected`` to the book's resolution: each window may end up to 1 ms late (answer
    times are whole ms, rounded up: the safe side)."""
    return pytest.approx(expected, abs=0.0012 * windows)


def limiter(clock: FakeClock, *specs: RateSpec, margin: float = 0.0) -> SlotLimiter:
    return SlotLimiter(specs, margin=margin, clock=clock, sleep=clock.sleep)


async def take(lim: SlotLimiter) -> None:
    """One request, answered at once."""
    lim.release(await lim.acquire())


def assert_rolling(starts: list[float], spec: RateSpec, margin: float) -> None:
    """At most spec.count starts in ANY interval shorter than window + margin."""
    for i in range(spec.count, len(starts)):
        gap = starts[i] - starts[i - spec.count]
        assert gap >= spec.window + margin - 1e-9, (i, gap)


async def test_first_burst_is_immediate_then_spaced_by_window() -> None:
    clock = FakeClock()
    lim = limiter(clock, RateSpec(5, 1.0))
    starts = []
    for _ in range(12):
        await take(lim)
        starts.append(clock.now - 1000.0)
    assert starts == ms([0.0] * 5 + [1.0] * 5 + [2.0] * 2, windows=2)


async def test_never_more_than_n_in_any_window_with_concurrent_waiters() -> None:
    clock = FakeClock()
    specs = (RateSpec(7, 1.0), RateSpec(20, 5.0))
    lim = limiter(clock, *specs, margin=0.05)
    starts: list[float] = []

    async def worker() -> None:
        for _ in range(15):
            await take(lim)
            starts.append(clock.now)

    await asyncio.gather(*(worker() for _ in range(6)))
    assert len(starts) == 90
    assert starts == sorted(starts)
    for spec in specs:
        assert_rolling(starts, spec, 0.05)


async def test_saturates_the_allowed_rate() -> None:
    """It never waits longer than the tightest window requires: 100 starts at 10/s take 9.x s."""
    clock = FakeClock()
    lim = limiter(clock, RateSpec(10, 1.0))
    for _ in range(100):
        await take(lim)
    assert clock.now - 1000.0 == ms(9.0, windows=9)


async def test_margin_widens_each_window() -> None:
    clock = FakeClock()
    lim = limiter(clock, RateSpec(2, 1.0), margin=0.25)
    for _ in range(3):
        await take(lim)
    assert clock.now - 1000.0 == ms(1.25)


async def test_slow_down_pauses_and_lowers_the_limit() -> None:
    clock = FakeClock()
    lim = limiter(clock, RateSpec(10, 1.0))
    await take(lim)
    lim.slow_down(3.0, factor=0.5)
    await take(lim)
    assert clock.now - 1000.0 == ms(3.0)
    starts = []
    for _ in range(5):
        await take(lim)
        starts.append(clock.now - 1000.0)
    assert starts == ms([3.0] * 4 + [4.0])  # 5 in the first second after the pause, not 10


async def test_no_specs_never_waits() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    for _ in range(1000):
        assert await lim.acquire() == NO_SLOT
    assert clock.now == 1000.0


async def test_a_slot_is_held_until_a_window_after_its_answer() -> None:
    clock = FakeClock()
    lim = limiter(clock, RateSpec(2, 1.0))
    slow, fast = await lim.acquire(), await lim.acquire()
    lim.release(fast)
    clock.now += 0.5
    lim.release(slow)  # answered 0.5 s after it was sent
    await take(lim)
    assert clock.now - 1000.0 == ms(1.0)  # the fast one's slot
    await take(lim)
    assert clock.now - 1000.0 == ms(1.5, windows=2)  # the slow one's: a window after its answer


async def test_without_specs_a_429_teaches_a_limit() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    for _ in range(10):
        await take(lim)
        clock.now += 0.05  # 20/s, too fast for the server
    lim.slow_down(0.0)
    starts = []
    for _ in range(20):
        await take(lim)
        starts.append(clock.now)
    learned = RateSpec(8, 1.0)  # 80% of the 10 starts of the last second
    assert_rolling(starts, learned, 0.0)
    assert starts[-1] - starts[0] < 2.5


async def test_429s_from_one_burst_lower_the_limit_once() -> None:
    clock = FakeClock()
    lim = limiter(clock, RateSpec(10, 1.0))
    sent = clock.now
    for _ in range(10):
        await take(lim)
    clock.now += 0.1
    for _ in range(3):  # three answers to the same burst
        lim.slow_down(0.0, factor=0.5, sent_at=sent)
    starts = []
    for _ in range(10):
        await take(lim)
        starts.append(clock.now)
    assert starts[5] - starts[0] == ms(1.0)  # 5 per second, not 1


async def test_a_lowered_limit_recovers_a_tenth_per_clean_window() -> None:
    clock = FakeClock()
    lim = limiter(clock, RateSpec(10, 1.0))
    lim.slow_down(0.0, factor=0.5)  # 5 per second now
    per_second: Counter[int] = Counter()
    for _ in range(70):
        await take(lim)
        per_second[int(clock.now - 1000.0)] += 1
    assert [per_second[s] for s in range(7)] == [5, 6, 7, 8, 9, 10, 10]


async def test_preloaded_starts_count_against_the_window() -> None:
    clock = FakeClock()
    lim = limiter(clock, RateSpec(3, 1.0))
    lim.preload([0.5, 0.4])  # the previous run's last answers, seconds ago
    await take(lim)
    await take(lim)
    assert clock.now - 1000.0 == ms(0.5)


async def test_answer_times_in_the_future_are_left_out_and_never_stall() -> None:
    """A clock set back (or a hand edit) puts audit-log answers ahead of now; counted, they
    would hold the window until then. They are left out of the preload, and told."""
    clock, wall_now = FakeClock(), 1_700_000_000.0
    ages, ahead = answer_ages([wall_now + 600.0] * 5 + [wall_now - 0.5], wall_now)
    assert ages == [0.5] and ahead == [600.0] * 5
    lim = limiter(clock, RateSpec(5, 60.0))
    lim.preload(ages)
    for _ in range(4):
        await take(lim)
    assert clock.now == 1000.0  # four more of 5/min after one recent answer: no wait at all


async def test_a_share_taken_by_another_client_is_found_with_one_refusal_a_window_at_most() -> None:
    """A strict 60/s server where another client sends 20/s: the first burst's refusals say
    how many fit; after it, at most one refusal a window and most of the remaining 40/s."""
    clock, server = VirtualTime(), RollingWindows([(60, 1.0)])
    lim = SlotLimiter([RateSpec(60, 1.0)], clock=clock, sleep=clock.sleep)
    sent: list[float] = []
    refused: Counter[int] = Counter()

    async def other_client() -> None:
        while clock.now < 30.0:
            server.admit(clock.now)
            await clock.sleep(0.05)

    async def worker() -> None:
        await clock.sleep(1.0)  # the other client is already there
        while clock.now < 30.0:
            ticket = await lim.acquire()
            at = clock.now
            await clock.sleep(0.002)  # to the server ...
            wait = server.admit(clock.now)
            await clock.sleep(0.002)  # ... and back
            if wait is None:
                sent.append(at)
            else:  # Retry-After in whole seconds, as most servers send it
                refused[int(at)] += 1
                lim.slow_down(max(1, math.ceil(wait)), sent_at=at)
            lim.release(ticket)

    work = asyncio.ensure_future(asyncio.gather(other_client(), *(worker() for _ in range(16))))
    await clock.run(work)
    first = min(refused)
    assert max(n for second, n in refused.items() if second > first) <= 1
    assert sum(1 for t in sent if 5.0 <= t < 30.0) / 25.0 >= 0.85 * 40


class CountingStore(MemoryStore):
    """The budget of this process, counting the steps taken on it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.steps = 0

    async def step(self, ask: Ask) -> Grant:
        self.steps += 1
        return await super().step(ask)


async def test_far_from_the_limit_a_step_serves_hundreds_of_requests_and_none_is_lost() -> None:
    """A limit never reached costs next to nothing a request: spare slots taken in one
    step go to the next requests without a wait; what is left goes back at the end."""
    clock = FakeClock()
    store = CountingStore(clock)
    lim = SlotLimiter([RateSpec(100_000, 1.0)], clock=clock, sleep=clock.sleep, store=store)

    async def worker() -> None:
        for _ in range(100):
            ticket = await lim.acquire()
            await asyncio.sleep(0)  # the request is out
            lim.release(ticket)

    await asyncio.gather(*(worker() for _ in range(64)))
    assert store.steps <= 6400 // 100
    await lim.close()
    assert store.book.held == {} and store.book.owners == {}


async def test_a_429_gives_back_the_spare_slots_the_lowered_count_has_no_room_for() -> None:
    clock = FakeClock()
    lim = limiter(clock, RateSpec(1000, 1.0))
    starts = [clock.now]
    await take(lim)  # one step: its slot and 256 spare ones (half the count stays free)
    lim.slow_down(0.0, factor=0.1)  # 100 a window from now on
    while len(starts) < 150:
        await take(lim)
        starts.append(clock.now)
    assert sum(t < 1001.0 for t in starts) == 100  # the lowered count, not 1 + 256 spare
