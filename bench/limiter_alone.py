"""The limiter alone at a strict rate: what it gives of the limit when requests cost nothing.

64 workers take a slot through ``SlotLimiter`` on a real ``FileStore``, "send" by
sleeping ``--latency`` seconds and release; the grant times stand for arrivals. The
figure is the steady rate (as the strict rows compute it) over the limit N/W, beside
the most response-anchored slots can give, 1 / (1 + latency): a row like strict2k
that falls well short of it while this does not is held back by the cost of a
request outside the limiter (``profile_run.py --rate`` shows where).

    .venv/bin/python bench/limiter_alone.py [--rate 2000] [--requests 4000] [--latency 0.03]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from rate_rows import steady_rate

from bulkops.model import RateSpec
from bulkops.ratelimit.budget import FileStore
from bulkops.ratelimit.limiter import SlotLimiter


async def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=int, default=2000, help="N of N/s")
    p.add_argument("--requests", type=int, default=4000)
    p.add_argument("--latency", type=float, default=0.03, help="seconds a request is out")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkops-limiter-") as tmp:
        store = FileStore(Path(tmp) / "budget.json", lease=30.0)
        limiter = SlotLimiter([RateSpec(args.rate, 1.0)], store=store)
        grants: list[float] = []
        left = [args.requests]

        async def worker() -> None:
            while left[0] > 0:
                left[0] -= 1
                ticket = await limiter.acquire()
                grants.append(time.monotonic())
                await asyncio.sleep(args.latency)
                limiter.release(ticket)

        cpu = time.process_time()
        await asyncio.gather(*(worker() for _ in range(64)))
        await limiter.close()
        cpu = time.process_time() - cpu
    figure = steady_rate(sorted(grants), args.rate) / args.rate
    print(f"{args.requests} requests at {args.rate}/s, {args.latency * 1000:.0f} ms out: "
          f"{figure:.3f} of the limit (at most {1 / (1 + args.latency):.3f}), "
          f"{cpu / args.requests * 1e6:.0f} µs CPU a request")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
