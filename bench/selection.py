"""Issue 4's figures: resolving a 5,000-campaign selection, and `bulkops report` on a
1,000,000-line audit log (peak RSS next to a bare interpreter's, measured in the same run).

    .venv/bin/python bench/selection.py [--campaigns 5000] [--lines 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SECRET, SandboxProcess, bulkops_cmd, child_env, measure  # noqa: E402


def measured(cmd: list[str], cwd: Path) -> dict[str, object]:
    """Runs ``cmd`` from the small spawner process, so its peak RSS is its own."""
    m = measure(cmd, env=child_env(), cwd=cwd, timeout=600)
    return {"code": m.returncode, "wall_s": round(m.wall_s, 3), "maxrss_mb": round(m.maxrss_mb, 1),
            "stdout": m.stdout, "stderr": m.stderr}  # fmt: skip


def selection(work: Path, campaigns: int) -> dict[str, object]:
    with SandboxProcess(work, None, campaigns=campaigns) as sandbox:
        url = sandbox.url
        (work / "job.yaml").write_text(
            "version: 1\nname: select-bench\n"
            f"target: {{host: '{url}', app_id: st-sandbox-app, account_id: acc-sandbox}}\n"
            "auth: {client_id: cs-sandbox-demo, client_secret_env: KOREAI_CLIENT_SECRET}\n"
            "select:\n  status: [Active, Completed, Ready, Paused, Preparing, Stopped, Scheduled, "
            "Rescheduled]\n"
            f"run: {{rate: none, concurrency: 32, max_deletes: {campaigns}}}\n"
            "audit_log: audit.jsonl\n"
        )
        preview = ["run", "job.yaml", "--dry-run", "--log-format", "json", "--output", "json"]
        run = measured([*bulkops_cmd(), *preview], work)
        selected = next(
            json.loads(line) for line in str(run["stderr"]).splitlines() if '"selected"' in line
        )
        stats = sandbox.stats()
        return {
            "campaigns": campaigns,
            "selected": selected["selected"],
            "list_calls_bulkops": selected["list_calls"],
            "list_calls_server": stats["by_method"].get("POST", 0),
            "page_limits": sorted({c["limit"] for c in stats["list_calls"]}),
            "resolve_message": selected["message"],
            "dry_run_exit": run["code"],
        }


STATUS_OF = {"deleted": 200, "not_found": 404, "failed": 503}


def run_records(run: int, n: int, rng: random.Random) -> list[dict[str, object]]:
    """One run of ``n`` campaign lines (90% deleted, 8% not found, 2% failed)."""
    head = {
        "ts": "2026-11-27T00:00:00.000Z",
        "run_id": f"20261127T000000Z-{run:06x}",
        "job": "bench",
    }
    target = {"host": "https://kore.example", "app_id": "st-a", "account_id": "acc"}
    records: list[dict[str, object]] = [
        {"event": "run_started", **head, "dry_run": False, "total": n, "target": target}
    ]
    counts = dict.fromkeys(
        ("deleted", "not_found", "failed", "would_delete", "skipped", "pending"), 0
    )
    for i in range(n):
        outcome = rng.choices(("deleted", "not_found", "failed"), (90, 8, 2))[0]
        counts[outcome] += 1
        records.append({
            "event": "campaign", **head, "campaign_id": f"cd-{run}-{i:07d}", "outcome": outcome,
            "http_status": STATUS_OF[outcome], "attempts": 5 if outcome == "failed" else 1,
            "duration_ms": rng.randint(3, 900), "message": None,
            "error": "gave up after 5 attempts" if outcome == "failed" else None,
            "campaign": {"_id": f"cd-{run}-{i:07d}", "name": "Billing", "status": "Stopped"},
        })  # fmt: skip
    records.append({"event": "run_finished", **head, "counts": counts, "duration_s": 3600.0,
                    "exit_code": 1, "reason": "completed"})  # fmt: skip
    return records


def write_audit_log(path: Path, lines: int, per_run: int = 100_000) -> None:
    rng = random.Random(4)
    with open(path, "w", encoding="utf-8") as f:
        written, run = 0, 0
        while written < lines:
            run += 1
            records = run_records(run, min(per_run, lines - written - 2), rng)
            f.writelines(json.dumps(r) + "\n" for r in records)
            written += len(records)


def report_memory(work: Path, lines: int) -> dict[str, object]:
    log = work / "big.jsonl"
    write_audit_log(log, lines)
    bare = measured([sys.executable, "-c", "import json"], work)
    report = measured([*bulkops_cmd(), "report", str(log), "--format", "json"], work)
    failed = measured([*bulkops_cmd(), "report", str(log), "--failed-ids"], work)
    return {
        "lines": sum(1 for _ in open(log, "rb")),
        "size_mb": round(log.stat().st_size / 2**20, 1),
        "report_exit": report["code"],
        "report_wall_s": report["wall_s"],
        "report_peak_rss_mb": report["maxrss_mb"],
        "failed_ids_peak_rss_mb": failed["maxrss_mb"],
        "failed_ids_printed": str(failed["stdout"]).count("\n"),
        "bare_python_peak_rss_mb": bare["maxrss_mb"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--campaigns", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ["KOREAI_CLIENT_SECRET"] = SECRET
    with tempfile.TemporaryDirectory(prefix="bulkops-select-") as tmp:
        result = {"selection": selection(Path(tmp), args.campaigns),
                  "report": report_memory(Path(tmp), args.lines)}  # fmt: skip
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
