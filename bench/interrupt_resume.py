"""Issue 3's figure: a 2,000-id run against a faulty sandbox (10% dropped connections,
10% 503s), interrupted twice with SIGINT and resumed until done.

    .venv/bin/python bench/interrupt_resume.py [--ids 2000] [--drop 0.1] [--503 0.1]

Prints: second DELETEs of an already deleted campaign at the server (goal 0),
ids without a final outcome in the audit log (goal 0), total requests / ids.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SandboxProcess, bulkops_cmd, child_env, write_ids, write_job  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=2000)
    parser.add_argument("--drop", type=float, default=0.1)
    parser.add_argument("--e503", "--503", dest="e503", type=float, default=0.1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bulkops-resume-"))
    ids = write_ids(work / "ids.txt", args.ids, prefix="cd-resume")
    faults = ("--drop-rate", str(args.drop), "--error-rate", f"503={args.e503}")
    with SandboxProcess(work, ids, extra=faults) as sandbox:
        job = write_job(work / "job.yaml", host=sandbox.url, ids_file=ids, concurrency=16)
        runs = []
        for stop_at in (args.ids // 3, 2 * args.ids // 3, None):
            proc = subprocess.Popen(
                [*bulkops_cmd(), "run", str(job), "--yes", "--quiet"], env=child_env(),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            if stop_at is not None:
                while len(sandbox.stats()["deleted_ids"]) < stop_at and proc.poll() is None:
                    time.sleep(0.01)
                proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=600)
            runs.append({"exit": proc.returncode, "summary": err.strip().splitlines()[-1]})
        audit = [json.loads(line) for line in job.with_suffix(".jsonl").read_text().splitlines()]
        server = sandbox.stats()

    latest: dict[str, str] = {}
    lines_per_run: Counter[tuple[str, str]] = Counter()
    for record in audit:
        if record["event"] == "campaign":
            latest[record["campaign_id"]] = record["outcome"]
            lines_per_run[(record["run_id"], record["campaign_id"])] += 1
    all_ids = ids.read_text().split()
    second_deletes = server["by_status"].get("404", 0)  # every id was seeded: a 404 is a repeat
    result = {
        "runs": runs,
        "deleted_at_server": len(server["deleted_ids"]),
        "ids_deleted_twice_at_server": sum(
            1 for c in server["campaigns"].values() if c["deletes"] > 1
        ),
        "delete_requests_after_deleted (404s)": second_deletes,
        "ids_without_final_outcome": sum(
            1 for i in all_ids if latest.get(i) not in ("deleted", "not_found")
        ),
        "ids_with_two_lines_in_one_run": sum(1 for n in lines_per_run.values() if n > 1),
        "total_requests": server["total_requests"],
        "requests_per_id": round(server["total_requests"] / args.ids, 3),
        "faults_injected": {"dropped": server["dropped"], "503": server["by_status"].get("503", 0)},
        "expected_requests_per_id_from_faults": round(1 / (1 - args.drop - args.e503), 3),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
