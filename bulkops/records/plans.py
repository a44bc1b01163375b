"""Plan files: the exact set a dry run resolved, executed later without drift.

``run --dry-run --plan-out plan.json`` writes it; ``run --plan plan.json``
deletes exactly those campaigns, and refuses a plan made for another job file,
another target, or one older than the allowed age.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bulkops.errors import JobError
from bulkops.ids import validate_campaign_id
from bulkops.model import Job
from bulkops.records.files import atomic_write
from bulkops.utc import parse_utc, utc_now

PLAN_VERSION = 1
MAX_PLAN_BYTES = 256 << 20


def _target(job: Job) -> dict[str, str]:
    t = job.target
    return {
        "host": t.host,
        "app_id": t.app_id,
        "account_id": t.account_id,
        "campaign_type": t.campaign_type,
    }


def write_plan(path: Path, job: Job, rows: list[dict[str, Any]]) -> None:
    """Writes the plan atomically: rows are the dry run's would_delete previews."""
    plan = {
        "version": PLAN_VERSION,
        "job": job.name,
        "job_sha256": job.sha256,
        "target": _target(job),
        "created_at": utc_now(),
        "count": len(rows),
        "campaigns": rows,
    }
    atomic_write(path, json.dumps(plan, ensure_ascii=False, indent=1) + "\n", mode=0o600)


def load_plan(
    path: Path, job: Job, *, max_age: timedelta, now: datetime | None = None
) -> list[str]:
    """The plan's campaign ids, after checking it belongs to this job, target and time."""
    where = f"plan {path}"
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise JobError(f"{where}: larger than {MAX_PLAN_BYTES} bytes")
        plan = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JobError(f"{where}: cannot read it: {exc.strerror}") from exc
    except ValueError as exc:
        raise JobError(f"{where}: not a plan file (not JSON): {str(exc)[:80]}") from exc
    if not isinstance(plan, dict) or plan.get("version") != PLAN_VERSION:
        raise JobError(f"{where}: not a version {PLAN_VERSION} plan file")
    if plan.get("job") != job.name or plan.get("job_sha256") != job.sha256:
        raise JobError(
            f"{where}: made from another job file (or {job.path} changed since); "
            "make a new plan with --dry-run --plan-out"
        )
    if plan.get("target") != _target(job):
        raise JobError(
            f"{where}: made for another target than {job.target.host} app {job.target.app_id}"
        )
    created = parse_utc(plan.get("created_at"))
    now = now or datetime.now(timezone.utc)
    if created is None or now - created > max_age:
        raise JobError(
            f"{where}: older than the allowed {max_age} (--plan-max-age); review a fresh dry run"
        )
    campaigns = plan.get("campaigns")
    if not isinstance(campaigns, list):
        raise JobError(f"{where}: has no campaigns list")
    return [
        validate_campaign_id(
            c.get("id") if isinstance(c, dict) else None, f"{where}: campaigns[{i}]"
        )
        for i, c in enumerate(campaigns)
    ]
