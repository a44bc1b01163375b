"""The machine-wide budget file: shared by processes, remembered across kill -9, kept safe."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bulkops.errors import RateStoreError
from bulkops.model import RunSettings, Target
from bulkops.ratelimit.budget import new_owner, open_store, owner_alive, process_start
from bulkops.ratelimit.budget_file import FileStore, state_dir
from tests.test_slots import assert_no_window_overfull

REPO = Path(__file__).resolve().parents[1]

# One process: takes a slot, "sends" (records the grant time), answers at once; for `seconds`.
TAKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from bulkops.ratelimit.budget_file import FileStore

    async def main(path, start, seconds, out):
        store = FileStore(Path(path), lease=30.0)
        await asyncio.sleep(start - time.time())  # both begin together, however slow to start
        grants, end = [], start + seconds
        while time.time() < end:
            grant = await store.take(1, [(10, 0.25)])
            if grant.tokens:
                grants.append(time.time())
                await store.release([(grant.tokens[0], 0.0)])
            else:
                await asyncio.sleep(min(grant.wait, 0.02))
        await store.close()
        Path(out).write_text(json.dumps(grants))

    asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]))
    """
)


def test_two_processes_share_one_budget_fairly(tmp_path: Path) -> None:
    budget = tmp_path / "budget.json"
    outs = [tmp_path / f"grants-{i}.json" for i in range(2)]
    start = str(time.time() + 3.0)  # both interpreters are up by then, even on a loaded machine
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TAKER, str(budget), start, "1.0", str(out)], cwd=REPO
        )
        for out in outs
    ]
    for proc in procs:
        assert proc.wait(30) == 0
    each = [json.loads(out.read_text()) for out in outs]
    together = sorted(t for grants in each for t in grants)
    assert_no_window_overfull(together, 10, 0.25)  # 10 per 0.25 s between them
    assert len(together) >= 0.8 * 10 * 1.0 / 0.25  # and they used the budget
    assert min(map(len, each)) >= 0.3 * len(together)  # neither starved: after the first
    # window (whoever asked first took it all), each holds at most half


# Takes every slot of 5 per 0.6 s, reports, then waits to be killed without answering.
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from bulkops.ratelimit.budget_file import FileStore

    async def main(path):
        store = FileStore(Path(path), lease=30.0)
        grant = await store.take(5, [(5, 0.6)])
        print(len(grant.tokens), flush=True)
        await asyncio.sleep(60)

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_slots_of_a_run_killed_with_kill_9_are_remembered(tmp_path: Path) -> None:
    budget = tmp_path / "budget.json"
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(budget)], cwd=REPO, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "5"
        holder.send_signal(signal.SIGKILL)
    killed_at = time.time()
    store = FileStore(budget, lease=30.0)
    grant = await store.take(5, [(5, 0.6)])
    assert grant.tokens == ()  # the restart does not burst...
    assert 0.5 <= grant.wait <= 0.65  # ...it waits a window from when the death was seen
    await asyncio.sleep(grant.wait + 0.01)
    assert len((await store.take(5, [(5, 0.6)])).tokens) == 5
    assert time.time() - killed_at >= 0.6
    await store.close()


async def test_the_file_lives_under_xdg_state_home_private_and_names_the_account(
    private_rate_budget: Path,
) -> None:
    target = Target("https://kore.example", "st-app", "acc-1")
    store = open_store(RunSettings(), target)
    assert isinstance(store, FileStore)
    assert store.path.parent == state_dir() == private_rate_budget / "bulkops"
    await store.take(1, [(60, 60.0)])
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
    grant = await store.take(2, [(2, 1.0)])
    await store.release([(t, 0.0) for t in grant.tokens])
    now[0] = 400.0  # ten minutes back: the answers now look 600 s in the future
    assert (await store.take(1, [(2, 1.0)])).tokens == ()
    assert store.clamped == 2
    now[0] = 401.0
    assert len((await store.take(2, [(2, 1.0)])).tokens) == 2  # a window after "now"


async def test_an_unreadable_budget_file_stops_the_run_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{"bulkops_budget": 1, "book": {"held": 5}}')
    with pytest.raises(RateStoreError, match=r"b\.json is not a rate budget.*Remove it"):
        await FileStore(path, lease=30.0).take(1, [(2, 1.0)])
    os.symlink(tmp_path / "elsewhere", tmp_path / "link.json")
    with pytest.raises(RateStoreError):
        await FileStore(tmp_path / "link.json", lease=30.0).take(1, [(2, 1.0)])


async def test_an_unwritable_state_home_is_a_rate_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "file"))
    store = open_store(RunSettings(), Target("https://kore.example", "st-app", "acc-1"))
    with pytest.raises(RateStoreError, match="XDG_STATE_HOME"):
        await store.take(1, [(2, 1.0)])
    await asyncio.sleep(0)


def test_a_killed_process_not_yet_reaped_counts_as_gone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = process_start(proc.pid)
        assert start is not None and start > 0
        owner = f"{proc.pid}.{start}.{new_owner().split('.')[2]}"
        assert owner_alive(owner)
        proc.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_start(proc.pid) != -1:  # a zombie until we reap it
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not owner_alive(owner)
        assert owner_alive(f"{proc.pid}.{start}.ffffff000000")  # another host's: its lease
    finally:
        proc.kill()
        proc.wait()


async def test_a_tail_left_after_the_line_by_a_killed_writer_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    store = FileStore(path, lease=30.0)
    grant = await store.take(2, [(2, 1.0)])
    await store.close()
    with open(path, "ab") as f:
        f.write(b'"held": {}, "done": [[9e99, "x"]]} and more of a longer, older book')
    again = FileStore(path, lease=30.0)
    assert (await again.take(1, [(2, 1.0)])).tokens == ()  # the two held slots still count
    await again.release([(t, 0.0) for t in grant.tokens])
    assert path.read_bytes().count(b"\n") == 1  # and the tail is gone at the next write
    await again.close()
