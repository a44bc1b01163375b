"""The slot rule on a fake clock: whatever the delays, no server window sees N+1.

A request may reach the server any time between its grant and its answer (or
error), and its answer may take any time to come back. The rule holds each
slot until W after the answer, so at the server arrivals[i + N] - arrivals[i]
is never less than W. Checked on the pure ``SlotBook`` with random processes
and delays (hypothesis), and through the limiter with concurrent workers.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkops.model import RateSpec
from bulkops.ratelimit.limiter import RollingWindowLimiter
from bulkops.ratelimit.slots import SlotBook

SPECS = ((3, 1.0), (5, 3.0))  # two windows: every request holds a slot of each


def assert_no_window_overfull(arrivals: Sequence[float], count: int, window: float) -> None:
    """At most ``count`` arrivals in any interval [t, t + window) (the sandbox's rule)."""
    times = sorted(arrivals)
    for i in range(count, len(times)):
        assert times[i] - times[i - count] >= window - 1e-9, (
            count,
            window,
            times[i - count : i + 1],
        )


request = st.tuples(
    st.integers(0, 2),  # which process asks
    st.integers(1, 4),  # how many slots it wants
    st.floats(0, 0.7),  # clock advance before it asks
    st.floats(0, 1.5),  # delay on the way to the server
    st.floats(0, 1.5),  # delay of the answer on the way back
    st.sampled_from(["answer", "error after arrival", "error, never arrived", "unsent"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(request, min_size=1, max_size=60), st.floats(0, 0.3))
def test_no_arrival_pattern_puts_n_plus_1_in_any_window(
    steps: list[tuple[int, int, float, float, float, str]], margin: float
) -> None:
    book, now, seq = SlotBook(), 0.0, 0
    caps = [(count, window + margin) for count, window in SPECS]
    answers: list[tuple[float, str, bool]] = []  # heap of (answered at, token, sent)
    arrivals: list[float] = []
    for owner, want, advance, to_server, back, fate in steps:
        now += advance
        while answers and answers[0][0] <= now:
            at, token, sent = heapq.heappop(answers)
            book.release(now, [(token, now - at)], sent=sent)
        book.settle(now)
        tokens = (f"{owner}#{n}" for n in range(seq, seq + want))
        seq += want
        grant = book.take(now, f"p{owner}", want, caps, tokens, lease=100.0)
        for token in grant.tokens:
            if fate in ("answer", "error after arrival"):
                arrivals.append(now + to_server)
            answered = now + to_server + back
            heapq.heappush(answers, (answered, token, fate != "unsent"))
    for count, window in SPECS:
        assert_no_window_overfull(arrivals, count, window)


def test_a_full_spec_says_when_a_slot_frees() -> None:
    book = SlotBook()
    tokens = iter(f"t{n}" for n in range(10))
    assert len(book.take(0.0, "a", 3, [(3, 1.0)], tokens, lease=60).tokens) == 3
    book.release(0.5, [("t0", 0.0), ("t1", 0.2)])  # answered at 0.5 and at 0.3
    short = book.take(0.6, "a", 1, [(3, 1.0)], tokens, lease=60)
    assert short.tokens == () and short.wait == pytest.approx(0.7)  # 0.3 + 1.0 - 0.6
    assert book.take(1.3, "a", 2, [(3, 1.0)], tokens, lease=60).tokens == ("t3",)


def test_an_error_releases_the_slot_like_an_answer_and_an_unsent_one_at_once() -> None:
    book = SlotBook()
    tokens = iter(f"t{n}" for n in range(10))
    book.take(0.0, "a", 2, [(2, 1.0)], tokens, lease=60)
    book.release(0.1, [("t0", 0.0)])  # an error (timeout, 503): the server may have seen it
    book.release(0.1, [("t1", 0.0)], sent=False)  # never left this process
    assert book.take(0.2, "a", 2, [(2, 1.0)], tokens, lease=60).tokens == ("t2",)
    assert book.take(1.1, "a", 1, [(2, 1.0)], tokens, lease=60).tokens == ("t3",)


def test_a_slot_never_answered_counts_until_its_lease_ends_then_a_window_more() -> None:
    book = SlotBook()
    tokens = iter(f"t{n}" for n in range(10))
    book.take(0.0, "gone", 1, [(1, 1.0)], tokens, lease=5.0)
    for now in (1.0, 5.5):
        book.settle(now)
        assert book.take(now, "b", 1, [(1, 1.0)], tokens, lease=5.0).tokens == ()
    book.settle(6.0)  # presumed answered at 5.0, the lease's end
    assert book.take(6.0, "b", 1, [(1, 1.0)], tokens, lease=5.0).tokens != ()


def test_slots_of_a_dead_process_free_a_window_after_it_is_seen_gone() -> None:
    book = SlotBook()
    tokens = iter(f"t{n}" for n in range(10))
    book.take(0.0, "dead", 1, [(1, 1.0)], tokens, lease=60.0)
    book.settle(2.0, alive=lambda owner: owner != "dead")
    assert book.take(2.5, "b", 1, [(1, 1.0)], tokens, lease=60).tokens == ()
    assert book.take(3.0, "b", 1, [(1, 1.0)], tokens, lease=60).tokens != ()


def test_processes_that_all_want_more_converge_on_equal_shares() -> None:
    book, now = SlotBook(), 0.0
    tokens = iter(f"t{n}" for n in range(100_000))
    caps = [(60, 1.0)]
    held: dict[str, list[tuple[str, float]]] = {"a": [], "b": [], "c": []}
    got = dict.fromkeys(held, 0)
    while now < 10.0:
        for owner in held:  # each answers what it holds after 10 ms, and asks for 64
            book.release(now, [(t, 0.0) for t, at in held[owner] if at + 0.01 <= now])
            held[owner] = [(t, at) for t, at in held[owner] if at + 0.01 > now]
            grant = book.take(now, owner, 64, caps, tokens, lease=60)
            held[owner] += [(t, now) for t in grant.tokens]
            got[owner] += len(grant.tokens) if now >= 5.0 else 0
        now += 0.005
    assert sum(got.values()) >= 0.95 * 60 * 5  # the budget is used...
    assert max(got.values()) - min(got.values()) <= 0.1 * max(got.values())  # ...evenly


def test_a_process_alone_takes_the_whole_budget_once_others_stop_wanting() -> None:
    book = SlotBook()
    tokens = iter(f"t{n}" for n in range(1000))
    book.take(0.0, "a", 10, [(10, 1.0)], tokens, lease=60)  # a holds 10 of 10
    assert book.take(0.0, "b", 5, [(10, 1.0)], tokens, lease=60).tokens == ()  # b wants
    book.release(0.1, [(f"t{n}", 0.0) for n in range(10)])
    assert len(book.take(1.2, "b", 8, [(10, 1.0)], tokens, lease=60).tokens) == 8


def test_preloaded_answers_are_not_counted_twice() -> None:
    book = SlotBook()
    tokens = iter(f"t{n}" for n in range(10))
    book.take(0.0, "a", 2, [(4, 10.0)], tokens, lease=60)
    book.release(1.0, [("t0", 0.0), ("t1", 0.0)])
    book.preload([0.9, 1.1], now=2.0)  # the same two requests, as an audit log saw them
    assert len(book.done) == 2 and max(e[0] for e in book.done) == pytest.approx(1.1)
    assert len(book.take(2.0, "a", 4, [(4, 10.0)], tokens, lease=60).tokens) == 2


def test_a_book_survives_its_json_and_a_bad_one_is_refused() -> None:
    book = SlotBook()
    book.take(0.0, "a", 2, [(4, 10.0)], iter(["x", "y"]), lease=60)
    book.release(1.0, [("x", 0.0)])
    assert SlotBook.from_doc(book.to_doc()) == book
    for bad in (None, {"held": {}}, {**book.to_doc(), "done": [["nan", "a"]]}):
        with pytest.raises(ValueError):
            SlotBook.from_doc(bad)


class VirtualTime:
    """A clock that jumps to the next sleeper's deadline once every task is blocked."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), self._seq, future))
        await future

    async def run(self, work: asyncio.Future[object]) -> None:
        while not work.done():
            for _ in range(30):  # let everything that can run, run
                await asyncio.sleep(0)
            if self._sleepers and not work.done():
                deadline, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, deadline)
                if not future.done():
                    future.set_result(None)


@pytest.mark.parametrize("specs", [(RateSpec(5, 1.0),), (RateSpec(4, 1.0), RateSpec(10, 5.0))])
async def test_the_limiter_with_slow_requests_and_errors_never_overfills_a_window(
    specs: tuple[RateSpec, ...],
) -> None:
    clock, rng = VirtualTime(), random.Random(11)
    lim = RollingWindowLimiter(specs, clock=clock, sleep=clock.sleep)
    arrivals: list[float] = []

    async def worker() -> None:
        for _ in range(12):
            ticket = await lim.acquire()
            try:
                to_server, back = rng.uniform(0, 0.8), rng.uniform(0, 0.8)
                await clock.sleep(to_server)
                if rng.random() < 0.2:
                    raise TimeoutError  # an error: the slot is released all the same
                arrivals.append(clock.now)
                await clock.sleep(back)
            except TimeoutError:
                pass
            finally:
                lim.release(ticket)

    work = asyncio.ensure_future(asyncio.gather(*(worker() for _ in range(8))))
    await clock.run(work)
    await work
    assert len(arrivals) > 50
    for spec in specs:
        assert_no_window_overfull(arrivals, spec.count, spec.window)
