"""Selection through the list API, plans approved then executed, and reports fed back."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import BOTH_DIALECTS, bulkops, env, plan_digest_for, write_job

NOW = datetime.now(timezone.utc)
STATUSES = ["Stopped", "Completed", "Active", "Paused"]
NAMES = ["Test Outbound", "test lower", "Billing Reminder", "Contest"]


def seed_mix(sandbox: SandboxThread, n: int = 240) -> list[dict]:
    """n campaigns cycling through statuses, names and ages (0..59 days)."""
    rows = [
        {"_id": f"cd-sel-{i:04d}", "name": f"{NAMES[i % 4]} {i}", "status": STATUSES[(i // 4) % 4],
         "createdAt": (NOW - timedelta(days=i % 60, hours=1)).isoformat(timespec="milliseconds")}
        for i in range(n)
    ]  # fmt: skip
    sandbox.add_campaigns(rows)
    return rows


def expected(rows: list[dict], exclude: set[str] = frozenset()) -> set[str]:
    return {
        r["_id"] for r in rows
        if r["status"] in ("Stopped", "Completed") and r["name"].lower().startswith("test")
        and datetime.fromisoformat(r["createdAt"]) < NOW - timedelta(days=30)
        and r["_id"] not in exclude
    }  # fmt: skip


SELECT = {"status": ["Stopped", "Completed"], "name": "Test*", "created_before": "30d"}


@BOTH_DIALECTS
def test_selection_over_pages_deletes_exactly_the_matching_set(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    rows = seed_mix(sandbox, 440)
    want = expected(rows)
    skip_one = sorted(want)[0]
    job = write_job(tmp_path, sandbox, select=SELECT, exclude=[skip_one])
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    stats = sandbox.stats_snapshot()
    assert set(stats["deleted_ids"]) == want - {skip_one}
    methods = stats["methods"]
    assert methods.count("POST") == 3  # 220 Stopped/Completed at 100 a page
    assert "DELETE" not in methods[: methods.index("DELETE")] and methods.index("DELETE") == 3
    bodies = stats["list_calls"]
    assert [b["page"] for b in bodies] == [1, 2, 3]
    assert all(b["filters"] == {"status": ["Stopped", "Completed"]} and b["type"] == "voice"
               and b["limit"] == 100 for b in bodies)  # fmt: skip
    assert "selected" in result.stderr and "3 list calls" in result.stderr


def test_results_with_id_instead_of__id(tmp_path: Path, sandbox: SandboxThread) -> None:
    rows = seed_mix(sandbox, 40)
    sandbox.configure(id_field="id")
    result = bulkops("run", write_job(tmp_path, sandbox, select=SELECT), "--yes", cwd=tmp_path)
    assert result.code == 0
    assert set(sandbox.stats_snapshot()["deleted_ids"]) == expected(rows)


def test_plan_out_then_plan_deletes_exactly_the_planned_set(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    rows = seed_mix(sandbox, 80)
    job = write_job(tmp_path, sandbox, select=SELECT)
    plan = tmp_path / "plan.json"
    preview = bulkops("run", job, "--dry-run", "--plan-out", plan, cwd=tmp_path)
    assert preview.code == 0, preview.stderr
    planned = {c["id"] for c in json.loads(plan.read_text())["campaigns"]}
    assert planned == expected(rows)
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]
    # a new matching campaign appears after the review: the plan must not pick it up
    sandbox.add_campaigns([{"_id": "cd-late", "name": "Test late", "status": "Stopped",
                            "createdAt": (NOW - timedelta(days=45)).isoformat()}])  # fmt: skip
    result = bulkops("run", job, "--plan", plan, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert set(sandbox.stats_snapshot()["deleted_ids"]) == planned
    assert "cd-late" not in sandbox.stats_snapshot()["deleted_ids"]


def test_stale_or_foreign_plans_are_refused(tmp_path: Path, sandbox: SandboxThread) -> None:
    seed_mix(sandbox, 40)
    job = write_job(tmp_path, sandbox, select=SELECT)
    plan = tmp_path / "plan.json"
    assert bulkops("run", job, "--dry-run", "--plan-out", plan, cwd=tmp_path).code == 0
    sent = sandbox.stats_snapshot()["total_requests"]

    doc = json.loads(plan.read_text())
    doc["created_at"] = (NOW - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    doc["digest"] = plan_digest_for(doc, job)  # an old plan, not an edited one
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    result = bulkops("run", job, "--plan", old, "--yes", cwd=tmp_path)
    assert result.code == 2 and "older than" in result.stderr

    doc = json.loads(plan.read_text())
    doc["target"]["app_id"] = "st-other-app"
    doc["digest"] = plan_digest_for(doc, job)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(doc))
    result = bulkops("run", job, "--plan", foreign, "--yes", cwd=tmp_path)
    assert result.code == 2 and "another target" in result.stderr

    job.write_text(job.read_text().replace("name: e2e", "name: e2e-changed"))
    result = bulkops("run", job, "--plan", plan, "--yes", cwd=tmp_path)
    assert result.code == 2 and "another job file" in result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == sent


def test_dry_run_json_output_and_max_deletes_warning(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    rows = seed_mix(sandbox, 80)
    job = write_job(tmp_path, sandbox, select=SELECT, run={"max_deletes": 2})
    result = bulkops("run", job, "--dry-run", "--output", "json", cwd=tmp_path)
    assert result.code == 0
    doc = json.loads(result.stdout)
    assert {c["id"] for c in doc["campaigns"]} == expected(rows)
    assert {"name", "status", "createdAt"} <= set(doc["campaigns"][0])
    assert "would be refused" in result.stderr
    real = bulkops("run", job, "--yes", cwd=tmp_path)
    assert real.code == 2 and "max_deletes" in real.stderr
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]


def test_failed_ids_feed_back_as_a_campaigns_file(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=6)
    sandbox.configure(fail_always={ids[1]: 503, ids[4]: 400})
    job = write_job(tmp_path, sandbox, ids)
    assert bulkops("run", job, "--yes", cwd=tmp_path).code == 1
    report = bulkops("report", tmp_path / "audit.jsonl", "--failed-ids", cwd=tmp_path)
    assert report.code == 0
    assert sorted(report.stdout.split()) == sorted([ids[1], ids[4]])
    (tmp_path / "retry.txt").write_text(report.stdout)
    sandbox.configure(fail_always={})
    retry = write_job(tmp_path, sandbox, campaigns_file="retry.txt")
    result = bulkops("run", retry, "--yes", "--fresh", cwd=tmp_path)
    assert result.code == 0
    assert set(sandbox.stats_snapshot()["deleted_ids"]) == set(ids)
    again = bulkops("report", tmp_path / "audit.jsonl", "--failed-ids", cwd=tmp_path)
    assert again.stdout == ""
    summary = json.loads(
        bulkops("report", tmp_path / "audit.jsonl", "--format", "json", cwd=tmp_path).stdout
    )
    # each campaign once, by its latest outcome: the two that failed were deleted since
    assert summary["totals"]["deleted"] == 6 and summary["totals"]["failed"] == 0


def test_a_selection_that_cannot_be_resolved_aborts_before_any_delete(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    seed_mix(sandbox, 40)
    sandbox.configure(auth_status=401)
    result = bulkops("run", write_job(tmp_path, sandbox, select=SELECT), "--yes", cwd=tmp_path)
    assert result.code == 3
    assert "could not resolve the selection" in result.stderr and "HTTP 401" in result.stderr
    assert sandbox.stats_snapshot()["by_method"] == {"POST": 1}
    started, finished = result.audit
    assert started["total"] == 0
    assert finished["reason"] == "aborted" and finished["exit_code"] == 3


def test_report_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    records = [{"event": "run_started", "ts": "2026-01-01T00:00:00.000Z", "run_id": "r", "job": "j",
                "dry_run": False, "total": 20000}]  # fmt: skip
    records += [
        {"event": "campaign", "ts": "2026-01-01T00:00:01.000Z", "run_id": "r", "job": "j",
         "campaign_id": f"cd-{i}", "outcome": "failed", "http_status": 503, "attempts": 5,
         "duration_ms": 10, "message": None, "error": "gave up", "campaign": None}
        for i in range(20000)
    ]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    pipeline = subprocess.run(
        f"{sys.executable} -m bulkops report {log} --failed-ids | head -1",
        shell=True, capture_output=True, text=True, env=env(), timeout=60,
    )  # fmt: skip
    assert pipeline.stdout == "cd-0\n"
    assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr
