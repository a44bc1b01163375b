"""Instructions per request, counted by valgrind's callgrind: repeatable where CPU
seconds on this shared 2-core machine are not (issue 5, row 4's companion).

Runs bulkops and bench/baseline.py under callgrind at two sizes against a sandbox
(not under valgrind) and reports (instructions at N2 − at N1) ÷ (N2 − N1): the
per-request cost with start-up and imports cancelled out.

    .venv/bin/python bench/instructions.py [--small 300] [--large 1500] [--rate 100000/s]

``--rate`` adds bulkops with that limit in its job (never reached), to compare the cost of
a request with a limit set and without.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BENCH, SandboxProcess, child_env, write_ids, write_job  # noqa: E402


def instructions(cmd: list[str], cwd: Path) -> int:
    out = cwd / "callgrind.out"
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd],
        cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"{cmd[0]} under callgrind exited {run.returncode}: {run.stderr[-400:]}")
    match = re.search(r"Collected : (\d+)", run.stderr)
    if not match:
        raise RuntimeError("callgrind printed no total")
    return int(match[1])


def count(kind: str, n: int, work: Path, rate: str = "") -> int:
    here = work / f"{kind}-{n}"
    here.mkdir()
    ids = write_ids(here / "ids.txt", n, prefix="cd-x")
    with SandboxProcess(here, ids) as sandbox:
        if kind.startswith("bulkops"):
            rates = (rate,) if kind == "bulkops+rate" else ()
            job = write_job(here / "job.yaml", host=sandbox.url, ids_file=ids, concurrency=64,
                            rates=rates)  # fmt: skip
            cmd = [sys.executable, "-m", "bulkops", "run", str(job), "--yes", "--quiet"]
        else:
            baseline = str(BENCH / "baseline.py")
            cmd = [sys.executable, baseline, "--url", sandbox.url, "--ids", str(ids)]
        total = instructions(cmd, here)
        deleted = len(sandbox.stats()["deleted_ids"])
    if deleted != n:
        raise RuntimeError(f"{kind} deleted {deleted} of {n}")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--large", type=int, default=1500)
    parser.add_argument("--rate", default="", help="also bulkops with this run.rate")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bulkops-cg-") as tmp:
        work = Path(tmp)
        per_request = {}
        kinds = ("bulkops", "baseline", *(("bulkops+rate",) if args.rate else ()))
        for kind in kinds:
            small = count(kind, args.small, work, args.rate)
            large = count(kind, args.large, work, args.rate)
            per_request[kind] = (large - small) / (args.large - args.small)
            print(f"{kind:9} {small:>14,} instr at {args.small}, {large:>14,} at {args.large}: "
                  f"{per_request[kind]:,.0f} instr/request")  # fmt: skip
    ratio = per_request["bulkops"] / per_request["baseline"]
    print(f"bulkops / baseline per request: {ratio:.3f}")
    if args.rate:
        limited = per_request["bulkops+rate"] / per_request["bulkops"]
        print(f"bulkops with rate {args.rate} / without, per request: {limited:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
