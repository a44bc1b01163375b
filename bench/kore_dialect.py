"""Issue 10's figure: a 2,000-id run against the sandbox answering like the documented platform.

    .venv/bin/python bench/kore_dialect.py [--ids 2000] [--rate-limited 0.05]
        [--failure-bodies 0.02] [--missing 0.10] [--rate 1000/0.1s]

The sandbox runs as `bulkops sandbox --dialect kore`: a missing campaign is a
400 with an errors[] body, rate-limit refusals are a 400 carrying only the
published wording (no 429, no Retry-After), some DELETEs are answered 200
{"status": "failure"} without deleting, and every error message echoes the
request's token. A share of the ids was never created. The job's rate is fast
(one refusal waits one window of it), so the run takes seconds.

Checks, from what the sandbox says it did and what bulkops wrote:
every id the server deleted is recorded `deleted`, every missing id
`not_found` (unless a failure body answered it), every id answered with a
failure body `failed`; exit 1; no token
(nothing shaped like a JWT: `eyJ`) in the audit log, stdout, stderr, the
summary JSON or the report. Then a second run, the faults switched off,
retries exactly the failed ids and deletes them. Prints counts, requests per
id and the commands; exit status 0 when every check holds.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SandboxProcess, bulkops_cmd, child_env, write_job  # noqa: E402


def run(cmd: list[str]) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc = subprocess.run(
        cmd, env=child_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


def latest_run(audit_log: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The outcomes and the run_finished line of the last run in the log."""
    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    run_id = records[-1]["run_id"]
    outcomes = {
        r["campaign_id"]: r["outcome"]
        for r in records
        if r["run_id"] == run_id and r["event"] == "campaign"
    }
    return outcomes, records[-1]


def configure(url: str, changes: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{url}/_sandbox/config", data=json.dumps(changes).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=2000)
    parser.add_argument("--rate-limited", type=float, default=0.05)
    parser.add_argument("--failure-bodies", type=float, default=0.02)
    parser.add_argument("--missing", type=float, default=0.10)
    parser.add_argument("--rate", default="1000/0.1s", help="the job's run.rate")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bulkops-kore-"))
    ids = [f"cd-kore-{i:06d}" for i in range(args.ids)]
    missing = set(random.Random(10).sample(ids, round(args.ids * args.missing)))
    (work / "ids.txt").write_text("\n".join(ids) + "\n")
    (work / "seed.txt").write_text("\n".join(i for i in ids if i not in missing) + "\n")
    faults = (
        *("--dialect", "kore", "--rate-limit-status", "400", "--echo-token"),
        *("--error-rate", f"rate_limit={args.rate_limited}"),
        *("--error-rate", f"failure_body={args.failure_bodies}"),
    )
    with SandboxProcess(work, work / "seed.txt", extra=faults) as sandbox:
        job = write_job(
            work / "job.yaml", host=sandbox.url, ids_file=work / "ids.txt", concurrency=16,
            rates=(args.rate,),
        )  # fmt: skip
        summary = work / "summary.json"
        first_cmd = [*bulkops_cmd(), "run", str(job), "--yes", "--summary-json", str(summary)]
        code, out, err, seconds = run(first_cmd)
        server = sandbox.stats()
        outcomes, finished = latest_run(job.with_suffix(".jsonl"))
        report = run([*bulkops_cmd(), "report", str(job.with_suffix(".jsonl"))])
        texts = {"stdout": out, "stderr": err, "summary JSON": summary.read_text(),
                 "report": report[1] + report[2]}  # fmt: skip

        configure(sandbox.url, {"error_rates": {}})
        code2, _, err2, seconds2 = run(first_cmd)
        retried, finished2 = latest_run(job.with_suffix(".jsonl"))
        server2 = sandbox.stats()
    texts["audit log"] = job.with_suffix(".jsonl").read_text()
    texts["second run's stderr"] = err2

    failure_ids = set(server["injected"].get("failure_body", []))
    deleted_ids = set(server["deleted_ids"])
    by_outcome = Counter(outcomes.values())
    checks = {
        "exit 1": code == 1,
        "every id the server deleted is recorded deleted": all(
            outcomes.get(i) == "deleted" for i in deleted_ids
        ),
        "every recorded delete happened": {i for i, o in outcomes.items() if o == "deleted"}
        == deleted_ids,
        "every missing id is not_found": all(
            outcomes.get(i) == "not_found" for i in missing - failure_ids
        ),
        "every failure-body id is failed": all(outcomes.get(i) == "failed" for i in failure_ids),
        "every failed id had a failure body": {i for i, o in outcomes.items() if o == "failed"}
        == failure_ids,
        "0 tokens in any file or stream": not any("eyJ" in t for t in texts.values()),
        "the next run retries exactly the failed ids": set(retried) == failure_ids
        and all(o == ("not_found" if i in missing else "deleted") for i, o in retried.items())
        and code2 == 0,
        "no campaign deleted twice": all(n <= 1 for n in Counter(server2["deleted_ids"]).values()),
    }
    figures = {
        "ids": args.ids,
        "counts": dict(by_outcome),
        "run_finished.counts": finished["counts"],
        "exit": code,
        "seconds": round(seconds, 2),
        "requests": server["total_requests"],
        "requests per id": round(server["total_requests"] / args.ids, 3),
        "rate-limit refusals (wording only, HTTP 400)": len(server["injected"].get("429", [])),
        "failure bodies": len(failure_ids),
        "missing ids": len(missing),
        "messages with [redacted]": texts["audit log"].count("[redacted]"),
        "second run": {
            "exit": code2,
            "counts": finished2["counts"],
            "requests": server2["total_requests"] - server["total_requests"],
            "seconds": round(seconds2, 2),
        },  # fmt: skip
        "command": " ".join(first_cmd[-5:]),
        "sandbox": "bulkops sandbox " + " ".join(faults),
    }
    print(json.dumps(figures, indent=1))
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    print(f"work files: {work}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
