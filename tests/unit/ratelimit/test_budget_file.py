"""The machine-wide budget file: shared by processes, remembered across kill -9, never
blocking the event loop, kept safe. Processes start on an event (a line on their stdin)
and kill -9 is checked on a controlled clock: no test sleeps."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bulkops.errors import RateStoreError
from bulkops.model import RunSettings, Target
from bulkops.ratelimit.budget import FileStore, open_store, state_dir
from bulkops.ratelimit.slots import GRAINS, OWNER_TTL, Ask
from tests.unit.ratelimit.timing import assert_no_window_overfull

REPO = Path(__file__).resolve().parents[3]

# One process: says it is ready, starts on "go", then for 1 s takes a slot through the
# limiter, records the grant time and answers at once.
TAKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from bulkops.model import RateSpec
    from bulkops.ratelimit.budget import FileStore
    from bulkops.ratelimit.limiter import SlotLimiter

    async def main(path, out):
        lim = SlotLimiter([RateSpec(10, 0.25)], store=FileStore(Path(path), lease=30.0))
        print("ready", flush=True)
        sys.stdin.readline()
        grants, end = [], time.time() + 1.0
        while time.time() < end:
            ticket = await lim.acquire()
            grants.append(time.time())
            lim.release(ticket)
        await lim.close()
        Path(out).write_text(json.dumps(grants))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def test_two_processes_share_one_budget_fairly(tmp_path: Path) -> None:
    budget = tmp_path / "budget.json"
    outs = [tmp_path / f"grants-{i}.json" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TAKER, str(budget), str(out)],
            cwd=REPO,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        for out in outs
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
    for proc in procs:
        assert proc.wait(30) == 0
        assert proc.stdout is not None
        proc.stdout.close()
    each = [json.loads(out.read_text()) for out in outs]
    together = sorted(t for grants in each for t in grants)
    assert_no_window_overfull(together, 10, 0.25)  # 10 per 0.25 s between them
    assert len(together) >= 0.8 * 10 * 1.0 / 0.25  # and they used the budget
    # The first window's slots go to whichever asked first; while both take slots, neither
    # gets much less than half (the slot book's own tests check the exact split)
    first, last = max(grants[0] for grants in each), min(grants[-1] for grants in each)
    meanwhile = [sum(first <= t <= last for t in grants) for grants in each]
    assert min(meanwhile) >= 0.35 * sum(meanwhile), meanwhile


# Takes every slot of 5 per 0.6 s at a given clock time, says so, then waits to be killed.
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from bulkops.ratelimit.budget import FileStore
    from bulkops.ratelimit.slots import Ask

    async def main(path, now):
        store = FileStore(Path(path), lease=30.0, clock=lambda: now)
        grant = await store.step(Ask(5, [(5, 600)]))
        print(len(grant.tokens), flush=True)
        sys.stdin.readline()

    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
    """
)


async def test_slots_of_a_run_killed_with_kill_9_stay_until_its_lease_lapses(
    tmp_path: Path,
) -> None:
    budget, t0 = tmp_path / "budget.json", 1_800_000_000.0
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(budget), str(t0)], cwd=REPO, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    ) as holder:  # fmt: skip
        assert holder.stdout is not None and holder.stdout.readline().strip() == "5"
        holder.send_signal(signal.SIGKILL)
    now = [t0]
    store = FileStore(budget, lease=30.0, clock=lambda: now[0])
    for at in (0.0, OWNER_TTL / 1000, OWNER_TTL / 1000 + 0.001, OWNER_TTL / 1000 + 0.6):
        now[0] = t0 + at
        assert (await store.step(Ask(5, [(5, 600)]))).tokens == (), at  # the restart never bursts
    now[0] = t0 + OWNER_TTL / 1000 + 0.602  # a window after the lapse was seen
    assert len((await store.step(Ask(5, [(5, 600)]))).tokens) == 5
    await store.close()


async def test_a_step_waiting_for_the_lock_never_blocks_the_loop_and_can_be_cancelled(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.json"
    store = FileStore(path, lease=30.0)
    await store.step(Ask(1, [(5, 1000)]))
    other = os.open(path, os.O_RDWR)  # another open file: another process, as flock sees it
    fcntl.flock(other, fcntl.LOCK_EX)
    waiting = asyncio.ensure_future(store.step(Ask(1, [(5, 1000)])))
    for _ in range(50):
        await asyncio.sleep(0)  # the loop runs on
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    waiting = asyncio.ensure_future(store.step(Ask(1, [(5, 1000)])))
    await asyncio.sleep(0)
    fcntl.flock(other, fcntl.LOCK_UN)
    os.close(other)
    assert len((await waiting).tokens) == 1
    await store.close()


async def test_the_file_lives_under_xdg_state_home_private_and_names_the_account(
    private_rate_budget: Path,
) -> None:
    target = Target("https://kore.example", "st-app", "acc-1")
    store = open_store(RunSettings(), target)
    assert isinstance(store, FileStore)
    assert store.path.parent == state_dir() == private_rate_budget / "bulkops"
    await store.step(Ask(1, [(60, 60_000)]))
    await store.close()
    assert (store.path.parent.stat().st_mode & 0o777) == 0o700
    assert (store.path.stat().st_mode & 0o777) == 0o600
    doc = json.loads(store.path.read_text())
    assert (doc["host"], doc["account_id"]) == ("https://kore.example", "acc-1")
    other_app = open_store(RunSettings(), Target("https://kore.example", "st-other", "acc-1"))
    assert isinstance(other_app, FileStore) and other_app.path == store.path  # one account


async def test_a_clock_set_back_holds_slots_longer_never_shorter(tmp_path: Path) -> None:
    now = [1000.0]
    store = FileStore(tmp_path / "b.json", lease=30.0, clock=lambda: now[0])
    grant = await store.step(Ask(2, [(2, 1000)]))
    await store.step(Ask(0, [(2, 1000)], [(t, 0, True) for t in grant.tokens]))
    now[0] = 400.0  # ten minutes back: the answers now look 600 s in the future
    assert (await store.step(Ask(1, [(2, 1000)]))).tokens == ()
    book = json.loads(store.path.read_text())["book"]
    assert [(e[0], e[2]) for e in book["done"]] == [(400_001, 2)]  # pulled back to "now"
    now[0] = 401.001
    assert len((await store.step(Ask(2, [(2, 1000)]))).tokens) == 2  # a window after "now"


async def test_a_run_with_a_shorter_timeout_never_cuts_another_runs_slot_short(
    tmp_path: Path,
) -> None:
    """Each run's unanswered request stays in flight until its own lease ends (its
    ``timeout`` + 10 s), whatever lease the run reading the book has."""
    now = [1000.0]
    slow = FileStore(tmp_path / "b.json", lease=60.0, clock=lambda: now[0])
    quick = FileStore(tmp_path / "b.json", lease=15.0, clock=lambda: now[0])
    assert len((await slow.step(Ask(1, [(1, 1000)]))).tokens) == 1  # and not answered yet
    for at in range(1, 40):  # both runs alive, stepping each second
        now[0] = 1000.0 + at
        await slow.step(Ask(0, [(1, 1000)]))
        assert (await quick.step(Ask(1, [(1, 1000)]))).tokens == (), at
    await slow.close()
    await quick.close()


async def test_answers_told_at_once_keep_one_entry_a_grain_in_the_file(tmp_path: Path) -> None:
    """An answer's time is rounded up to its grain, a few ms ahead of now; the file store
    keeps it there, so a run stepping every ms at 100,000/s keeps one entry a grain."""
    now, caps, held = [1000.0], [(100_000, 1000)], ()
    store = FileStore(tmp_path / "b.json", lease=30.0, clock=lambda: now[0])
    for _ in range(3000):
        now[0] += 0.001
        held = (await store.step(Ask(50, caps, [(t, 0, True) for t in held]))).tokens
    await store.close()
    done = json.loads((tmp_path / "b.json").read_text())["book"]["done"]
    assert sum(e[2] for e in done) >= 49_000 and len(done) <= GRAINS + 1


@pytest.mark.parametrize(
    "content",
    [b'{"bulkops_budget": 2, "book": {"held": 5}}', b'{"bulkops_budget": 2, "book": 1e999}',
     b"[" * 100_000, b"\xff\xfe garbage", b'{"bulkops_budget": 9}'],
)  # fmt: skip
async def test_an_unreadable_budget_file_stops_the_run_with_a_clear_error(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(content)
    with pytest.raises(RateStoreError, match=r"b\.json is not a rate budget.*Remove it"):
        await FileStore(path, lease=30.0).step(Ask(1, [(2, 1000)]))


async def test_a_budget_file_of_an_older_bulkops_starts_a_new_book(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{"bulkops_budget": 1, "book": {"held": {}, "done": [[5.5, "x"]]}}\n')
    assert len((await FileStore(path, lease=30.0).step(Ask(2, [(2, 1000)]))).tokens) == 2


async def test_links_and_files_others_may_write_are_refused(tmp_path: Path) -> None:
    os.symlink(tmp_path / "elsewhere", tmp_path / "link.json")
    with pytest.raises(RateStoreError, match="link.json"):
        await FileStore(tmp_path / "link.json", lease=30.0).step(Ask(1, [(2, 1000)]))
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "linked-dir")
    with pytest.raises(RateStoreError, match="a link is never followed"):
        await FileStore(tmp_path / "linked-dir" / "b.json", lease=30.0).step(Ask(1, [(2, 1000)]))
    shared = tmp_path / "shared.json"
    shared.write_text("")
    shared.chmod(0o666)
    with pytest.raises(RateStoreError, match=r"shared\.json is not safe.*writable by you alone"):
        await FileStore(shared, lease=30.0).step(Ask(1, [(2, 1000)]))


async def test_an_unwritable_state_home_is_a_rate_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "file"))
    store = open_store(RunSettings(), Target("https://kore.example", "st-app", "acc-1"))
    with pytest.raises(RateStoreError, match="XDG_STATE_HOME"):
        await store.step(Ask(1, [(2, 1000)]))


async def test_a_tail_left_after_the_line_by_a_killed_writer_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    store = FileStore(path, lease=30.0)
    grant = await store.step(Ask(2, [(2, 1000)]))
    with open(path, "ab") as f:
        f.write(b'"held": {}, "done": [[9e99, "x"]]} and more of a longer, older book')
    again = FileStore(path, lease=30.0)
    assert (await again.step(Ask(1, [(2, 1000)]))).tokens == ()  # the two held slots still count
    await store.step(Ask(0, [(2, 1000)], [(t, 0, False) for t in grant.tokens]))
    assert path.read_bytes().count(b"\n") == 1  # and the tail is gone at the next write
    await store.close()
    await again.close()
