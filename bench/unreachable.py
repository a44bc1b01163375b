"""Issue 10's second figure: the requests a 1,000-id job sends to a host where nothing listens.

    .venv/bin/python bench/unreachable.py [--ids 1000] [--concurrency 8]

Picks a free loopback port (bound, then closed: nothing listens there), runs
`bulkops run JOB --yes` on a job aimed at it, and counts the connection
attempts two ways: bulkops' own request count (`requests` in --summary-json)
and, when strace is installed, the connect() calls to that port the process
really made. Goal: fewer than 10. Prints the figures, the exit code, the
seconds and what stderr said; exit status 0 when the goal is met, the run
exited 3 and every campaign stayed pending.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import bulkops_cmd, child_env, write_ids, write_job  # noqa: E402

GOAL = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bulkops-unreachable-"))
    port = free_port()
    ids = write_ids(work / "ids.txt", args.ids, prefix="cd-nowhere")
    job = write_job(
        work / "job.yaml", host=f"http://127.0.0.1:{port}", ids_file=ids,
        concurrency=args.concurrency,
    )  # fmt: skip
    summary = work / "summary.json"
    cmd = [*bulkops_cmd(), "run", str(job), "--yes", "--summary-json", str(summary)]
    trace = work / "connect.trace"
    strace = shutil.which("strace")
    traced = [strace, "-f", "-e", "trace=connect", "-o", str(trace), *cmd] if strace else cmd
    started = time.monotonic()
    proc = subprocess.run(
        traced, env=child_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    seconds = time.monotonic() - started
    result = json.loads(summary.read_text())
    connects = None
    if strace and trace.exists():
        connects = sum(f"htons({port})" in line for line in trace.read_text().splitlines())
    figures = {
        "ids": args.ids,
        "concurrency": args.concurrency,
        "requests (bulkops' count)": result["requests"],
        "connect() calls to the port (strace)": connects,
        "exit": proc.returncode,
        "seconds": round(seconds, 2),
        "counts": result["counts"],
        "stderr": proc.stderr.strip().splitlines()[-1:],
        "command": f"bulkops run {job} --yes --summary-json {summary}",
    }
    print(json.dumps(figures, indent=1))
    worst = max(result["requests"], connects or 0)
    ok = worst < GOAL and proc.returncode == 3 and result["counts"]["pending"] == args.ids
    print(f"{'ok  ' if ok else 'FAIL'} {worst} requests before exiting (goal < {GOAL}), exit 3, "
          "every campaign pending")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
