"""Issue 12's figure: a 2,000-id run killed with SIGKILL six times at random moments, then
completed, against a sandbox whose strict rate limit equals the job's.

    .venv/bin/python bench/kill_restart.py [--ids 2000] [--kills 6] [--rate 100/s] [--seed 12]
                                           [--latency 0.05] [--rate-margin S]

The sandbox answers after ``--latency`` seconds, so that a kill finds requests in flight.

Prints: ids deleted twice at the server (goal 0), ids a run deleted without writing any
line about them (goal 0), the sandbox's 429 refusals during each run, i.e. after each
restart (goal 0), the requests each killed run left in flight (sent, no outcome), and
what the next run said about them.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SandboxProcess, bulkops_cmd, child_env, write_ids, write_job  # noqa: E402


def audit(log: Path, offset: int = 0) -> list[dict[str, Any]]:
    """The log's records from byte ``offset`` on; a torn line (a crash's) is skipped."""
    if not log.exists():
        return []
    records = []
    for line in log.read_bytes()[offset:].splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def _ids(lines: list[dict[str, Any]], event: str) -> set[str]:
    return {r["campaign_id"] for r in lines if r["event"] == event}


def refusals(stats: dict[str, Any]) -> int:
    return int(stats["by_status"].get("429", 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--rate", default="100/s")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--rate-margin", type=float, default=None, help="the job's rate_margin")
    parser.add_argument("--latency", type=float, default=0.05, help="sandbox answer delay (s)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="bulkops-kill-"))
    ids = write_ids(work / "ids.txt", args.ids, prefix="cd-kill")
    runs = []
    with SandboxProcess(work, ids, rates=(args.rate,), latency=args.latency) as sandbox:
        job = write_job(work / "job.yaml", host=sandbox.url, ids_file=ids,
                        concurrency=args.concurrency, rates=(args.rate,),
                        rate_margin=args.rate_margin)  # fmt: skip
        log = job.with_suffix(".jsonl")
        for n in range(args.kills + 1):
            stats = sandbox.stats()
            before, deleted_before = refusals(stats), set(stats["deleted_ids"])
            offset = log.stat().st_size if log.exists() else 0
            started = time.monotonic()
            proc = subprocess.Popen(
                [*bulkops_cmd(), "run", str(job), "--yes", "--quiet"], env=child_env(),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            killed_at = None
            if n < args.kills:
                killed_at = rng.uniform(1.0, 4.0)  # start-up takes ~0.5-1 s
                try:
                    proc.wait(timeout=killed_at)
                except subprocess.TimeoutExpired:
                    proc.kill()
            _, err = proc.communicate(timeout=600)
            time.sleep(args.latency + 0.2)  # requests of the killed run still being answered
            stats = sandbox.stats()
            lines = audit(log, offset)
            mentioned = {r.get("campaign_id") for r in lines}
            unrecorded = set(stats["deleted_ids"]) - deleted_before - mentioned
            runs.append({
                "run": n + 1, "killed_after_s": killed_at and round(killed_at, 2),
                "exit": proc.returncode, "seconds": round(time.monotonic() - started, 2),
                "429s_during_this_run (goal 0)": refusals(stats) - before,
                "deleted_by_this_run": len(set(stats["deleted_ids"]) - deleted_before),
                "deleted_by_this_run_without_its_line (goal 0)": len(unrecorded),
                "left_in_flight": len(_ids(lines, "sent") - _ids(lines, "campaign")),
                "said": next((x for x in err.splitlines() if "earlier run" in x), "")[:90],
                "summary": err.strip().splitlines()[-1][:110] if err.strip() else "",
            })  # fmt: skip
        server = sandbox.stats()
    deleted = set(server["deleted_ids"])
    result = {
        "runs": runs,
        "deleted_at_server": len(deleted),
        "ids_deleted_twice_at_server (goal 0)": sum(
            1 for c in server["campaigns"].values() if c["deletes"] > 1
        ),
        "ids_deleted_without_a_record (goal 0)": sum(
            r["deleted_by_this_run_without_its_line (goal 0)"] for r in runs
        ),
        "second_deletes_answered_404": server["by_status"].get("404", 0),
        "total_429s (goal 0)": refusals(server),
        "total_requests": server["total_requests"],
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
