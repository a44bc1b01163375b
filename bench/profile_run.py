"""Row 1's bulkops run under cProfile, against a fresh sandbox; prints the top functions.

    .venv/bin/python bench/profile_run.py [--ids 5000] [--top 15] [--out /tmp/bulkops.prof]
        [--rate 2000/s]

``--rate``: the sandbox refuses past it and the job is limited to it (margin 0), as in
the strict rows; without it neither limits.

The profile is written to ``--out`` for a closer look (``python -m pstats``,
snakeviz). cProfile roughly doubles the run's CPU time; read the shares, not
the absolute seconds.
"""

from __future__ import annotations

import argparse
import pstats
import sys
import tempfile
from pathlib import Path

from harness import SandboxProcess, child_env, measure, write_ids, write_job


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ids", type=int, default=5_000, help="deletes (default %(default)s)")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--top", type=int, default=15, help="functions listed per ordering")
    p.add_argument("--out", default="/tmp/bulkops.prof", help="cProfile output")
    p.add_argument("--rate", action="append", default=[], help="a strict rate, e.g. 2000/s")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkops-profile-") as tmp:
        work = Path(tmp)
        ids = write_ids(work / "ids.txt", args.ids)
        rates = tuple(args.rate)
        with SandboxProcess(work, ids, rates=rates) as sb:
            job = write_job(work / "job.yaml", host=sb.url, ids_file=ids,
                            concurrency=args.concurrency, rates=rates, rate_margin=0.0)  # fmt: skip
            cmd = [sys.executable, "-m", "cProfile", "-o", args.out, "-m", "bulkops", "run"]
            cmd += [str(job), "--yes", "--quiet"]
            env = {**child_env(), "XDG_STATE_HOME": str(work / "state")}  # a budget of its own
            m = measure(cmd, env=env, cwd=work, timeout=600, tag="profile")
    print(f"{args.ids} deletes: wall {m.wall_s:.2f} s, CPU {m.cpu_s:.2f} s (under cProfile)")
    if m.problem():
        print(f"! {m.problem()}")
        return 1
    stats = pstats.Stats(args.out)
    stats.strip_dirs()
    for order in ("tottime", "cumulative"):
        print(f"\n=== top {args.top} by {order} ===")
        stats.sort_stats(order).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
