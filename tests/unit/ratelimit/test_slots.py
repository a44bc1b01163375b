"""The slot rule on a fake clock: whatever the delays, no server window sees N+1.

A request may reach the server any time between its grant and its answer (or
error), and its answer may take any time to come back. The rule holds each
slot until W after the answer, so at the server arrivals[i + N] - arrivals[i]
is never less than W. Checked on the pure ``SlotBook`` (times in ms) with
random processes and delays (hypothesis), and through the limiter.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkops.jsoncodec import dumps
from bulkops.model import RateSpec
from bulkops.ratelimit.limiter import SlotLimiter
from bulkops.ratelimit.slots import GRAINS, OWNER_TTL, Ask, Grant, SlotBook
from tests.unit.ratelimit.timing import VirtualTime, assert_no_window_overfull

SPECS = ((3, 1000), (5, 3000))  # two windows (ms): every request holds a slot of each


def step(
    book: SlotBook, now: int, owner: str, want: int, caps: list[tuple[int, int]],
    answers: list[tuple[str, int, bool]] | None = None, lease: int = 60_000, more: int = 0,
) -> Grant:  # fmt: skip
    return book.step(now, Ask(want, caps, answers or [], owner=owner, lease=lease, more=more))


request = st.tuples(
    st.integers(0, 2),  # which process asks
    st.integers(1, 4),  # how many slots it wants
    st.integers(0, 3),  # how many spare ones besides
    st.integers(0, 700),  # clock advance (ms) before it asks
    st.integers(0, 1500),  # delay on the way to the server
    st.integers(0, 1500),  # delay of the answer on the way back
    st.sampled_from(["answer", "error after arrival", "error, never arrived", "unsent"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(request, min_size=1, max_size=60), st.integers(0, 300))
def test_no_arrival_pattern_puts_n_plus_1_in_any_window(
    steps: list[tuple[int, int, int, int, int, int, str]], margin: int
) -> None:
    book, now = SlotBook(), 0
    caps = [(count, window + margin) for count, window in SPECS]
    answers: list[tuple[int, str, bool]] = []  # heap of (answered at, token, sent)
    arrivals: list[float] = []
    for owner, want, more, advance, to_server, back, fate in steps:
        now += advance
        told = []
        while answers and answers[0][0] <= now:
            at, token, sent = heapq.heappop(answers)
            told.append((token, now - at, sent))
        grant = step(book, now, f"p{owner}", want, caps, told, lease=100_000, more=more)
        for token in grant.tokens:
            if fate in ("answer", "error after arrival"):
                arrivals.append(now + to_server)
            heapq.heappush(answers, (now + to_server + back, token, fate != "unsent"))
    for count, window in SPECS:
        assert_no_window_overfull(arrivals, count, window)


def test_spare_slots_only_while_every_spec_stays_half_free_and_nobody_else_wants() -> None:
    """A fast run takes spare slots to step rarely; a tight limit, or another run short of
    slots, lends it none."""
    book, caps = SlotBook(), [(400, 1000), (4000, 60_000)]
    assert len(step(book, 0, "a", 2, caps, more=10).tokens) == 12
    assert len(step(book, 1, "a", 180, caps, more=10).tokens) == 188  # 400-12-188: half free
    assert len(step(book, 2, "a", 3, caps, more=10).tokens) == 3  # no spare below half
    # a spec of GRAINS or fewer a window lends none: three runs sharing 10 a second must
    # not find the first one holding half of them before they asked
    assert len(step(SlotBook(), 0, "a", 1, [(10, 1000)], more=10).tokens) == 1
    assert len(step(SlotBook(), 0, "a", 1, [(GRAINS, 1000), *caps], more=10).tokens) == 1
    book = SlotBook()
    assert len(step(book, 0, "a", 2, caps, more=10).tokens) == 12
    assert step(book, 1, "b", 1, [(10, 1000)]).tokens == ()  # b is short of slots ...
    assert len(step(book, 2, "a", 1, caps, more=10).tokens) == 1  # ... so a gets no spare


def test_a_full_spec_says_when_a_slot_frees() -> None:
    book = SlotBook()
    t0, t1, _ = step(book, 0, "a", 3, [(3, 1000)]).tokens
    step(book, 500, "a", 0, [(3, 1000)], [(t0, 0, True), (t1, 200, True)])  # at 501, 301
    short = step(book, 600, "a", 1, [(3, 1000)])
    assert short.tokens == () and short.wait == 701  # 301 + 1000 - 600
    assert len(step(book, 1301, "a", 2, [(3, 1000)]).tokens) == 1


def test_an_error_releases_the_slot_like_an_answer_and_an_unsent_one_at_once() -> None:
    book = SlotBook()
    t0, t1 = step(book, 0, "a", 2, [(2, 1000)]).tokens
    errors = [(t0, 0, True), (t1, 0, False)]  # an error the server may have seen; never sent
    assert len(step(book, 100, "a", 2, [(2, 1000)], errors).tokens) == 1
    assert step(book, 1100, "a", 1, [(2, 1000)]).tokens == ()
    assert len(step(book, 1101, "a", 1, [(2, 1000)]).tokens) == 1


def test_a_slot_never_answered_counts_until_its_lease_ends_then_a_window_more() -> None:
    book = SlotBook()
    step(book, 0, "a", 1, [(1, 1000)], lease=5000)
    for now in (1000, 5000):
        assert step(book, now, "a", 1, [(1, 1000)], lease=5000).tokens == ()
    assert step(book, 5999, "a", 1, [(1, 1000)], lease=5000).tokens == ()  # answered at 5000
    assert step(book, 6000, "a", 1, [(1, 1000)], lease=5000).tokens != ()


def test_slots_of_a_run_whose_lease_lapsed_free_a_window_after_it_is_seen_gone() -> None:
    book = SlotBook()
    step(book, 0, "killed", 1, [(1, 1000)])  # and never heard from again
    assert step(book, OWNER_TTL, "b", 1, [(1, 1000)]).tokens == ()  # alive until then
    assert step(book, OWNER_TTL + 1, "b", 1, [(1, 1000)]).tokens == ()  # gone: answered now
    assert step(book, OWNER_TTL + 1001, "b", 1, [(1, 1000)]).tokens == ()
    assert step(book, OWNER_TTL + 1002, "b", 1, [(1, 1000)]).tokens != ()
    assert "killed" not in book.owners


def test_processes_that_all_want_more_converge_on_equal_shares() -> None:
    book, now = SlotBook(), 0
    held: dict[str, list[tuple[str, int]]] = {"a": [], "b": [], "c": []}
    got = dict.fromkeys(held, 0)
    while now < 10_000:
        for owner in held:  # each answers what it holds after 10 ms, and asks for 64
            told = [(t, now - at - 10, True) for t, at in held[owner] if at + 10 <= now]
            held[owner] = [(t, at) for t, at in held[owner] if at + 10 > now]
            grant = step(book, now, owner, 64, [(60, 1000)], told)
            held[owner] += [(t, now) for t in grant.tokens]
            got[owner] += len(grant.tokens) if now >= 5000 else 0
        now += 5
    assert sum(got.values()) >= 0.95 * 60 * 5  # the budget is used...
    assert max(got.values()) - min(got.values()) <= 0.1 * max(got.values())  # ...evenly


def test_a_run_slower_to_ask_again_still_gets_its_share_of_each_window_both_want() -> None:
    """Both runs send one request at a time, answered at once; "a" asks again 1 ms after a
    grant, "b" 3 ms after. A window's slots free together: "b" counts as wanting through
    its grants, so "a" stops at its share instead of taking whatever "b" has not yet asked
    for (it took 31 of 50 when a grant ended "b"'s wanting)."""
    book, caps = SlotBook(), [(10, 250)]
    gap, asks_at = {"a": 1, "b": 3}, {"a": 0, "b": 0}
    held: dict[str, list[str]] = {"a": [], "b": []}
    got = {"a": 0, "b": 0}
    for now in range(1300):
        for owner in ("a", "b"):
            if now < asks_at[owner]:
                continue
            grant = step(book, now, owner, 1, caps, [(t, 0, True) for t in held[owner]])
            held[owner] = [*grant.tokens]
            asks_at[owner] = now + (gap[owner] if grant.tokens else max(1, grant.wait))
            got[owner] += len(grant.tokens) if now >= 250 else 0  # after the first window
    assert got == {"a": 25, "b": 25}  # five windows of 10, split evenly


def test_a_process_alone_takes_the_whole_budget_once_others_stop_wanting() -> None:
    book = SlotBook()
    tokens = step(book, 0, "a", 10, [(10, 1000)]).tokens  # a holds 10 of 10
    assert step(book, 0, "b", 5, [(10, 1000)]).tokens == ()  # b wants
    step(book, 100, "a", 0, [(10, 1000)], [(t, 0, True) for t in tokens])
    assert len(step(book, 1200, "b", 8, [(10, 1000)]).tokens) == 8


def test_preloaded_answers_are_not_counted_twice() -> None:
    book = SlotBook()
    tokens = step(book, 0, "a", 2, [(4, 10_000)]).tokens
    step(book, 1000, "a", 0, [(4, 10_000)], [(t, 0, True) for t in tokens])  # at 1001
    history = Ask(0, [(4, 10_000)], history=[1100, 900], owner="a", lease=60_000)  # 900, 1100
    book.step(2000, history)
    assert sorted((e[0], e[2]) for e in book.done) == [(1001, 1), (1100, 1)]
    assert len(step(book, 2000, "a", 4, [(4, 10_000)]).tokens) == 2


def test_the_book_keeps_what_live_specs_need_however_high_the_limit_was() -> None:
    book, now, caps = SlotBook(), 0, [(100_000, 1000)]
    while now < 3000:  # 100,000/s: about 100 answers a ms
        tokens = step(book, now, "fast", 100, caps).tokens
        step(book, now, "fast", 0, caps, [(t, 0, True) for t in tokens])
        now += 1
    assert sum(e[2] for e in book.done) >= 90_000  # a window's answers, all counted...
    assert len(book.done) <= GRAINS + 1  # ...in one entry a grain
    book.step(now, Ask(0, caps, leave=True, owner="fast", lease=60_000))
    step(book, now + OWNER_TTL, "slow", 1, [(60, 60_000)])  # the fast run is gone
    assert sum(e[2] for e in book.done) <= 60  # what 60/min needs, no more


def test_a_book_survives_its_json_and_a_bad_one_is_refused() -> None:
    book = SlotBook()
    tokens = step(book, 0, "a", 2, [(4, 10_000)]).tokens
    step(book, 1000, "a", 0, [(4, 10_000)], [(tokens[0], 0, True)])
    doc = json.loads(dumps(book))  # as the file store writes it
    assert SlotBook.from_doc(doc) == book
    for bad in (
        None, {"held": {}}, {**doc, "done": [[1e999, "a", 1]]}, {**doc, "done": [[1.5, "a", 1]]},
        {**doc, "seq": "7"}, {**doc, "owners": {"a": [0, 0, 1, 1, 0]}},
    ):  # fmt: skip
        with pytest.raises(ValueError):
            SlotBook.from_doc(bad)


@pytest.mark.parametrize("specs", [(RateSpec(5, 1.0),), (RateSpec(4, 1.0), RateSpec(10, 5.0))])
async def test_the_limiter_with_slow_requests_and_errors_never_overfills_a_window(
    specs: tuple[RateSpec, ...],
) -> None:
    clock, rng = VirtualTime(), random.Random(11)
    lim = SlotLimiter(specs, clock=clock, sleep=clock.sleep)
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
    await lim.close()
    assert len(arrivals) > 50
    for spec in specs:
        assert_no_window_overfull(arrivals, spec.count, spec.window)
