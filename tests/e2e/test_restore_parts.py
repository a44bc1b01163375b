"""Restore's building blocks end to end: a real `bulkops run` deletes, the audit log's
snapshots and the job's restore: section make the bodies, the client's Create brings the
campaigns back in the sandbox."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bulkops.job import load_job
from bulkops.kore.client import KoreClient, open_session
from bulkops.kore.tokens import JwtMinter
from bulkops.model import Created, Job
from bulkops.records.create_body import build_create_body, merged_snapshot
from bulkops.records.restore_reader import read_deleted
from bulkops.sandbox import SandboxThread
from tests.e2e.harness import SECRET, bulkops, env, write_job

RESTORE = {"queue_name": "Default Queue", "experience_flow_name": "Billing Flow"}


def assert_restored_fields(body: dict[str, Any], old: dict[str, Any]) -> None:
    """The Create ``body`` holds, field by field, the settings of the ``old`` campaign (as
    the sandbox held it) and what RESTORE fills in."""
    for key in ("name", "description", "priority", "dialingMode", "dialingStrategy"):
        assert body[key] == old[key], key
    assert body["contactLists"] == old["contactLists"]
    assert body["schedule"] == {"isSchedulingEnabled": old["schedule"]["isSchedulingEnabled"]}
    if old["dialingMode"] == "Agentless":
        assert body["experienceFlowName"] == "Billing Flow"
    else:
        assert body["queue_name"] == "Default Queue"
    if old["dialingMode"] == "Preview":
        assert body["maxSkips"] == old["maxSkips"]


async def create_all(job: Job, bodies: list[dict[str, object]]) -> list[Created]:
    async with open_session(4) as session:
        client = KoreClient(
            session, host=job.target.host, app_id=job.target.app_id,
            account_id=job.target.account_id, campaign_type="voice",
            tokens=JwtMinter(job.auth.client_id, SECRET), timeout=5, api=job.target.api,
        )  # fmt: skip
        return list(await asyncio.gather(*(client.create(body) for body in bodies)))


# each dialect once and each api once: two runs keep the suite quick
@pytest.mark.parametrize(
    ("sandbox", "api"), [("bulkops", "v1"), ("kore", "v2")], indirect=["sandbox"]
)
def test_deleted_campaigns_of_every_mode_come_back_once_with_their_settings(
    tmp_path: Path, sandbox: SandboxThread, api: str
) -> None:
    ids = sandbox.add_campaigns(count=30)
    before = {
        cid: sandbox.call(lambda c=cid: sandbox.sandbox.state.store.get(c).full()) for cid in ids
    }
    restore = RESTORE | ({"dnc_list": "Global DNC"} if api == "v2" else {})
    target = {"host": sandbox.url, "app_id": "st-sandbox-app", "account_id": "acc-sandbox"}
    path = write_job(tmp_path, sandbox, ids, restore=restore, target=target | {"api": api})
    result = bulkops("run", path, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    job = load_job(path, environ=env(tmp_path))

    found = read_deleted(job.audit_log, job.target.host, job.target.app_id)
    assert sorted(found.campaigns) == sorted(ids) and len(found.runs) == 1
    assert Counter(c.campaign["dialingMode"] for c in found.campaigns.values() if c.campaign) == (
        Counter(b["dialingMode"] for b in before.values())
    )
    made = {
        cid: build_create_body(
            merged_snapshot(d.before, d.campaign), job.restore, api=api, campaign_type="voice"
        )
        for cid, d in found.campaigns.items()
    }
    assert all(m.body is not None for m in made.values()), [m.error for m in made.values()]
    bodies = [m.body for m in made.values() if m.body is not None]
    created = asyncio.run(create_all(job, bodies))

    stats = sandbox.stats_snapshot()
    assert len(stats["created"]) == 30 and len({c.new_id for c in created}) == 30
    assert not {c.new_id for c in created} & set(ids)
    by_name = {c["name"]: c["body"] for c in stats["created"]}
    for cid, old in before.items():
        body = by_name[old["name"]]  # each old name made exactly once, field by field:
        assert body == made[cid].body
        assert_restored_fields(body, old)
        assert ("dncLists" in body) == (api == "v2")
    assert sorted(sandbox.campaign_ids()) == sorted(c.new_id for c in created if c.new_id)
