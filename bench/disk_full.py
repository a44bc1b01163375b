"""Issue 12's figure: a 2,000-id run whose audit log hits a file size limit (RLIMIT_FSIZE
set in the child, as a full disk would) after about 1,000 campaigns, then resumed.

    .venv/bin/python bench/disk_full.py [--ids 2000] [--stop-after 1000] [--concurrency 16]

A first 100-id run without a limit measures the log's bytes per campaign (and what the
write-ahead ``sent`` line adds); the limit is set from it. Prints: the limited run's exit
code and error, campaigns deleted at the sandbox vs recorded in the log, deleted without
any line (goal 0), the summary file's view, and after a resume: ids deleted twice (goal 0).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SandboxProcess, bulkops_cmd, child_env, write_ids, write_job  # noqa: E402


def run(job: Path, *extra: str, file_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run(
        [*bulkops_cmd(), "run", str(job), "--yes", "--quiet", *extra], env=child_env(),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, preexec_fn=limit,
    )  # fmt: skip


def audit(job: Path) -> list[dict[str, Any]]:
    """The log's records; a torn line (what older versions left on a full disk) is counted."""
    records = []
    for line in job.with_suffix(".jsonl").read_bytes().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            records.append({"event": "torn line"})
    return records


def log_bytes(job: Path) -> dict[str, float]:
    """Bytes per campaign in the log, and the share of the write-ahead sent lines."""
    lines = job.with_suffix(".jsonl").read_bytes().splitlines(keepends=True)
    by_event: dict[str, int] = {}
    for line in lines:
        event = json.loads(line)["event"]
        by_event[event] = by_event.get(event, 0) + len(line)
    campaigns = sum(1 for line in lines if b'"event":"campaign"' in line)
    return {
        "header_bytes": by_event.get("run_started", 0),
        "bytes_per_campaign": round(sum(by_event.values()) / campaigns, 1),
        "campaign_line_bytes": round(by_event.get("campaign", 0) / campaigns, 1),
        "sent_line_bytes_per_campaign": round(by_event.get("sent", 0) / campaigns, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=2000)
    parser.add_argument("--stop-after", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bulkops-diskfull-"))

    calib = work / "calibrate"
    calib.mkdir()
    ids = write_ids(calib / "ids.txt", 100, prefix="cd-calib")
    with SandboxProcess(calib, ids) as sandbox:
        job = write_job(calib / "job.yaml", host=sandbox.url, ids_file=ids, concurrency=16)
        run(job)
        sizes = log_bytes(job)

    ids = write_ids(work / "ids.txt", args.ids, prefix="cd-full")
    limit = int(sizes["header_bytes"] + args.stop_after * sizes["bytes_per_campaign"])
    summary = work / "summary.json"
    with SandboxProcess(work, ids) as sandbox:
        job = write_job(work / "job.yaml", host=sandbox.url, ids_file=ids,
                        concurrency=args.concurrency)  # fmt: skip
        limited = run(job, "--summary-json", str(summary), file_limit=limit)
        after_limited = sandbox.stats()
        lines = audit(job)
        resumed = run(job)
        server = sandbox.stats()

    deleted = set(after_limited["deleted_ids"])
    sent = {r["campaign_id"] for r in lines if r["event"] == "sent"}
    recorded = {r["campaign_id"] for r in lines if r["event"] == "campaign"}
    doc = json.loads(summary.read_text()) if summary.exists() else {}
    result = {
        "log_sizes_from_100_id_run": sizes,
        "file_size_limit_bytes": limit,
        "limited_run": {
            "exit": limited.returncode,
            "stderr_tail": limited.stderr.strip().splitlines()[-2:],
            "traceback": "Traceback" in limited.stderr,
            "deleted_at_sandbox": len(deleted),
            "campaign_lines_recorded": len(recorded),
            "sent_lines": len(sent),
            "torn_lines": sum(1 for r in lines if r["event"] == "torn line"),
            "deleted_without_any_line (goal 0)": len(deleted - sent - recorded),
            "deleted_sent_but_outcome_unrecorded (in flight)": len(deleted & sent - recorded),
            "summary_json": {k: doc.get(k) for k in ("exit_code", "reason", "counts")},
        },
        "resumed_run": {"exit": resumed.returncode, "stderr_tail": resumed.stderr.strip()[-300:]},
        "deleted_at_sandbox_in_the_end": len(server["deleted_ids"]),
        "ids_deleted_twice (goal 0)": sum(
            1 for c in server["campaigns"].values() if c["deletes"] > 1
        ),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
