"""Issue 13's figure: what a dry run of a `select` job over 1,000 campaigns costs at 60/min.

    .venv/bin/python bench/preview_cost.py [--campaigns 1000] [--old DIR] [--old-rate 100/s]

"after" is this checkout, measured at the real 60/min: the sandbox enforces a strict rolling
60/min window and the job asks for 60/min. "before" is an older checkout given with --old (a
directory holding its `bulkops/` package, made for example with
`git archive <commit> | tar -x -C /tmp/old`), run with `PYTHONPATH=DIR`. At 60/min the old way
takes about 17 minutes, so it is measured at --old-rate (sandbox and job both), and its
60/min time is computed from the requests it sent: the ideal schedule under a strict 60/min
rolling window (the first 60 at once, then 60 a minute), which no client can beat. Requests
are what reached the sandbox, counted there; seconds are wall time of the bulkops process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from schedule import ideal_duration, parse_rate  # noqa: E402

from bulkops.sandbox import SandboxThread  # noqa: E402

SECRET = "sandbox-secret-not-for-production"
REAL_RATE = "60/min"


def dry_run(code: Path, rate: str, campaigns: int, work: Path) -> dict[str, Any]:
    """One `bulkops run --dry-run` of a select job from the checkout at ``code``."""
    with SandboxThread(campaigns=0, seed=13, rates=(rate,)) as sandbox:
        rows = [{"_id": f"cd-bench-{i:05d}", "name": f"Old {i}", "status": "Stopped"}
                for i in range(campaigns)]  # fmt: skip
        sandbox.add_campaigns(rows)
        job = work / f"job-{time.monotonic_ns()}.yaml"
        job.write_text(
            "version: 1\nname: preview-bench\n"
            f"target: {{host: '{sandbox.url}', app_id: st-sandbox-app, account_id: acc-sandbox}}\n"
            "auth: {client_id: cs-sandbox-demo, client_secret_env: KOREAI_CLIENT_SECRET}\n"
            "select: {status: [Stopped]}\n"
            f"run: {{rate: '{rate}', concurrency: 8, max_deletes: {campaigns}}}\n"
            f"audit_log: {job.with_suffix('.jsonl')}\n"
        )
        env = {**os.environ, "KOREAI_CLIENT_SECRET": SECRET, "PYTHONPATH": str(code)}
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "bulkops", "run", str(job), "--dry-run", "--output", "json"],
            env=env, cwd=work, capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        seconds = time.monotonic() - started
        stats = sandbox.stats_snapshot()
    previewed = json.loads(proc.stdout)["count"] if proc.returncode == 0 else None
    return {
        "code": str(code), "rate": rate, "exit": proc.returncode, "previewed": previewed,
        "requests": stats["total_requests"], "by_method": stats["by_method"],
        "rate_limited": stats["rate_limited"], "seconds": round(seconds, 2),
        "stderr_tail": proc.stderr.strip().splitlines()[-3:],
    }  # fmt: skip


def at_60_per_min(requests: int) -> float:
    """Seconds from the first to the last request under a strict 60/min window: a lower bound."""
    return ideal_duration(requests, [parse_rate(REAL_RATE)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--old", type=Path, help="an older checkout to measure as 'before'")
    parser.add_argument("--old-rate", default="100/s", help="the rate 'before' is measured at")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bulkops-preview-bench-") as tmp:
        after = dry_run(here, REAL_RATE, args.campaigns, Path(tmp))
        rows.append(("after (this checkout), measured at 60/min", after, after["seconds"]))
        if args.old:
            before = dry_run(args.old.resolve(), args.old_rate, args.campaigns, Path(tmp))
            computed = at_60_per_min(before["requests"])
            label = f"before (--old), measured at {args.old_rate}; 60/min computed"
            rows.append((label, before, computed))
    print(f"dry run of a select job over {args.campaigns:,} campaigns (all matching)")
    for label, row, at_60 in rows:
        print(f"\n{label}:")
        print(f"  exit {row['exit']}, previewed {row['previewed']}, requests {row['requests']} "
              f"{row['by_method']}, refused for rate {row['rate_limited']}")  # fmt: skip
        print(f"  seconds measured at {row['rate']}: {row['seconds']}")
        print(f"  seconds at 60/min: {at_60:.1f}" + (" (measured)" if row is rows[0][1] else
              " (computed: ideal 60/min schedule of those requests, a lower bound)"))  # fmt: skip
    print("\n" + json.dumps([r for _, r, _ in rows], indent=1))
    return 0 if all(r["exit"] == 0 for _, r, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
