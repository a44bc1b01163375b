"""How large the budget file is after a long, fast run (issue 17): the file must hold what the
current specs need, not everything that ran before.

Drives the real ``FileStore`` on a simulated clock: 100,000 requests at 2,000/s (each
answered 20 ms after it is sent, 64 at most in flight, answers told each ms), then
a run at 60/min that follows. Prints the file's size after each and the time one step
takes at the end. No sandbox, no network: only the store's work.

    .venv/bin/python bench/budget_size.py [--requests 100000] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from bulkops.ratelimit.budget import FileStore
from bulkops.ratelimit.slots import Ask


async def fast_run(path: Path, requests: int, rate: int, now: list[float]) -> float:
    store = FileStore(path, lease=30.0, clock=lambda: now[0])
    caps, flight, sent = [(rate, 1000)], deque[tuple[float, str]](), 0
    while sent < requests:
        now[0] += 0.001
        answers = []
        while flight and flight[0][0] <= now[0] - 0.020:
            answers.append((flight.popleft()[1], 0, True))
        grant = await store.step(Ask(min(64 - len(flight), requests - sent), caps, answers))
        flight.extend((now[0], t) for t in grant.tokens)
        sent += len(grant.tokens)
    await store.step(Ask(0, caps, [(t, 0, True) for _, t in flight]))
    started = time.perf_counter()
    for _ in range(100):
        await store.step(Ask(0, caps))
    step_ms = (time.perf_counter() - started) * 10
    await store.close()
    return step_ms


async def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--rate", type=int, default=2000)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkops-budget-") as tmp:
        path, now = Path(tmp) / "budget.json", [1_800_000_000.0]
        step_ms = await fast_run(path, args.requests, args.rate, now)
        after_fast = path.stat().st_size
        now[0] += 15.0  # the fast run's lease has lapsed: a slow run follows
        slow = FileStore(path, lease=30.0, clock=lambda: now[0])
        await slow.step(Ask(1, [(60, 60_000)]))
        await slow.close()
        doc = {
            "requests": args.requests, "rate_per_s": args.rate,
            "bytes_after_fast_run": after_fast, "ms_a_step_after_it": round(step_ms, 3),
            "bytes_after_a_60_per_min_run_follows": path.stat().st_size,
        }  # fmt: skip
    json.dump(doc, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
