"""Issue 21's figures: a 1,000-campaign restore, measured once uninterrupted and once killed
with SIGKILL at random moments and restored again until it finishes.

    .venv/bin/python bench/restore_kill.py [--campaigns 1000] [--kills 6] [--rate 100/s]
                                           [--latency 0.05] [--seed 21]

Each part deletes the campaigns with `bulkops run`, then restores them with `bulkops
restore`, against its own sandbox (answers after ``--latency`` seconds, so that a kill
finds Creates in flight). Prints: requests per restored campaign and the wall time of the
uninterrupted restore (and the wall time the same request count takes at Kore.ai's
60/min), then each killed restore, and the campaigns created twice (goal 0).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SandboxProcess, bulkops_cmd, child_env, write_ids, write_job  # noqa: E402

RESTORE = "restore:\n  queue_name: Default Queue\n  experience_flow_name: Billing Flow\n"


def bulkops(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*bulkops_cmd(), *args, "--yes", "--quiet"], env=child_env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def deleted(work: Path, sandbox: SandboxProcess, ids: Path, args: argparse.Namespace) -> Path:
    job = write_job(work / "job.yaml", host=sandbox.url, ids_file=ids, concurrency=16,
                    rates=(args.rate,))  # fmt: skip
    job.write_text(job.read_text() + RESTORE)
    proc = bulkops("run", str(job))
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    return job


def created_twice(stats: dict[str, Any]) -> int:
    return sum(n - 1 for n in Counter(c["name"] for c in stats["created"]).values() if n > 1)


def uninterrupted(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bulkops-restore-"))
    ids = write_ids(work / "ids.txt", args.campaigns, prefix="cd-rest")
    with SandboxProcess(work, ids, rates=(args.rate,), latency=args.latency) as sandbox:
        job = deleted(work, sandbox, ids, args)
        before = sandbox.stats()["total_requests"]
        started = time.monotonic()
        proc = bulkops("restore", str(job))
        _, err = proc.communicate(timeout=900)
        seconds = time.monotonic() - started
        stats = sandbox.stats()
    requests = stats["total_requests"] - before
    restored = len(stats["created"])
    return {
        "exit": proc.returncode, "restored": restored, "requests": requests,
        "requests_per_restored_campaign": round(requests / max(restored, 1), 4),
        f"wall_s_at_{args.rate}": round(seconds, 2),
        "wall_min_at_60_per_min (computed: requests / 60)": round(requests / 60, 1),
        "created_twice (goal 0)": created_twice(stats),
    }  # fmt: skip


def killed(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="bulkops-restore-kill-"))
    ids = write_ids(work / "ids.txt", args.campaigns, prefix="cd-rkill")
    rounds = []
    with SandboxProcess(work, ids, rates=(args.rate,), latency=args.latency) as sandbox:
        job = deleted(work, sandbox, ids, args)
        for n in range(args.kills + 20):  # the kills, then restores until one completes
            proc = bulkops("restore", str(job))
            kill_at = rng.uniform(0.5, args.kill_window) if n < args.kills else None
            try:
                proc.wait(timeout=kill_at)
            except subprocess.TimeoutExpired:
                proc.kill()
            _, err = proc.communicate(timeout=900)
            stats = sandbox.stats()
            said = err.strip().splitlines()[-1][:100] if err.strip() else ""
            rounds.append({"restore": n + 1, "killed_after_s": kill_at and round(kill_at, 2),
                           "exit": proc.returncode, "created_so_far": len(stats["created"]),
                           "said": said})  # fmt: skip
            if n >= args.kills and proc.returncode == 0:
                break
        stats = sandbox.stats()
    return {
        "rounds": rounds,
        "kills": sum(1 for r in rounds if r["exit"] == -9),
        "created": len(stats["created"]),
        "distinct_names_created": len({c["name"] for c in stats["created"]}),
        "created_twice (goal 0)": created_twice(stats),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--kill-window", type=float, default=6.0, help="kill within (s)")
    parser.add_argument("--rate", default="100/s")
    parser.add_argument("--latency", type=float, default=0.05, help="sandbox answer delay (s)")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    result = {"uninterrupted": uninterrupted(args), "killed": killed(args)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
