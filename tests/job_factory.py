"""A valid ``Job`` built in code, for unit tests that need one without a YAML file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bulkops.model import Auth, Job, RunSettings, Secret, Selection, Target

SECRET = "sandbox-secret-not-for-production"  # the sandbox's default: 33 bytes

# No rate limit, tiny backoffs and timeouts: a unit test never waits on a policy.
# Nothing protected unless a test says so (protect_status=("Active",)): no status look-ups.
FAST_SETTINGS = RunSettings(
    concurrency=4, rates=(), max_attempts=2, backoff_initial=0.001, backoff_max=0.002,
    timeout=2, max_retry_after=0.01, protect_status=(),
)  # fmt: skip


def make_job(
    tmp: Path,
    *,
    host: str = "http://127.0.0.1:9",
    ids: tuple[str, ...] = (),
    select: Selection | None = None,
    exclude: frozenset[str] = frozenset(),
    **run: Any,
) -> Job:
    """A job against ``host`` (the sandbox's app and account); ``run`` overrides settings."""
    return Job(
        version=1,
        name="unit",
        target=Target(host, "st-sandbox-app", "acc-sandbox"),
        auth=Auth("cs-sandbox-demo", Secret(SECRET)),
        campaign_ids=ids,
        select=select,
        exclude=exclude,
        run=replace(FAST_SETTINGS, **run),
        audit_log=tmp / "audit.jsonl",
        path=tmp / "job.yaml",
        sha256="ab" * 32,
    )
