"""Plan files: the exact set a dry run resolved, executed later without drift.

``run --dry-run --plan-out plan.json`` writes it; ``run --plan plan.json``
deletes exactly those campaigns, and refuses a plan made for another job file,
another target, or one older than the allowed age.

A plan carries an HMAC-SHA256 ``digest`` of its own content (canonical JSON
without the digest), keyed with the job's client secret (or, for a job that
has only a pre-made token, with that token): a plan edited by hand (an id
added, a date moved) no longer matches and is refused, and whoever lacks the
secret cannot make a new digest. A plan with a repeated id, a ``created_at``
in the future, or a file that group or others may write, is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bulkops.errors import JobError
from bulkops.ids import shown, validate_campaign_id
from bulkops.jsoncodec import loads
from bulkops.model import Job
from bulkops.records.files import atomic_write, check_output_path, open_own_file
from bulkops.utc import parse_utc, utc_now

PLAN_VERSION = 1
MAX_PLAN_BYTES = 256 << 20
CLOCK_SKEW = timedelta(minutes=5)  # a plan dated later than now by more is refused


def plan_digest(plan: dict[str, Any], job: Job) -> str:
    """``hmac-sha256:<hex>`` of the plan's content without its digest, as canonical JSON,
    keyed with the job's client secret (its pre-made token when it has no secret)."""
    body = {k: v for k, v in plan.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    mac = hmac.new(_key(job), text.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return "hmac-sha256:" + mac.hexdigest()


def _key(job: Job) -> bytes:
    secret = job.auth.client_secret or job.auth.token
    if secret is None:  # the loader refuses such a job: no plan may be keyed with nothing
        raise JobError("a plan needs the job's client secret or token to sign and check it")
    return secret.reveal().encode("utf-8", "surrogatepass")


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
    plan["digest"] = plan_digest(plan, job)
    check_output_path(path, "plan")
    atomic_write(path, json.dumps(plan, ensure_ascii=False, indent=1) + "\n", mode=0o600)


def load_plan(
    path: Path, job: Job, *, max_age: timedelta, now: datetime | None = None
) -> list[str]:
    """The plan's campaign ids, after checking it belongs to this job, target and time."""
    where = f"plan {path}"
    plan = _read(path, where)
    if not isinstance(plan, dict) or plan.get("version") != PLAN_VERSION:
        raise JobError(f"{where}: not a version {PLAN_VERSION} plan file")
    digest = plan.get("digest")
    if not isinstance(digest, str) or not hmac.compare_digest(digest, plan_digest(plan, job)):
        raise JobError(
            f"{where}: its content does not match its digest: it was edited after the dry run "
            "made it, made with another client secret, or by an older bulkops; make a new "
            "plan with --dry-run --plan-out"
        )
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
    if created is not None and created - now > CLOCK_SKEW:
        raise JobError(f"{where}: created_at {created_at_text(plan)} is in the future; refused")
    if created is None or now - created > max_age:
        raise JobError(
            f"{where}: older than the allowed {max_age} (--plan-max-age); review a fresh dry run"
        )
    campaigns = plan.get("campaigns")
    if not isinstance(campaigns, list):
        raise JobError(f"{where}: has no campaigns list")
    return _unique_ids(campaigns, where)


def created_at_text(plan: dict[str, Any]) -> str:
    return str(plan.get("created_at"))[:40]


def _unique_ids(campaigns: list[Any], where: str) -> list[str]:
    first: dict[str, int] = {}
    for i, c in enumerate(campaigns):
        raw = c.get("id") if isinstance(c, dict) else None
        campaign_id = validate_campaign_id(raw, f"{where}: campaigns[{i}]")
        if campaign_id in first:
            raise JobError(
                f"{where}: campaigns[{i}]: id {shown(campaign_id)} repeats campaigns"
                f"[{first[campaign_id]}]; a dry run never writes one twice: refused"
            )
        first[campaign_id] = i
    return list(first)


def _read(path: Path, where: str) -> Any:
    fd = open_own_file(path, os.O_RDONLY | os.O_NONBLOCK, "plan")  # a FIFO must not hang us
    try:
        with os.fdopen(fd, "rb") as f:
            if os.fstat(f.fileno()).st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise JobError(
                    f"{where}: group or others may write it, so anyone could have changed it: "
                    f"refused; make it private (chmod 600 {path}) and review it again"
                )
            raw = f.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise JobError(f"{where}: cannot read it: {exc.strerror}") from exc
    if len(raw) > MAX_PLAN_BYTES:
        raise JobError(f"{where}: larger than {MAX_PLAN_BYTES} bytes")
    try:
        return loads(raw.decode("utf-8"))
    except ValueError as exc:  # TooDeep says so; UnicodeDecodeError too
        raise JobError(f"{where}: not a plan file (not JSON): {str(exc)[:80]}") from exc
