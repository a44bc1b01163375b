"""Plan files: what a dry run wrote is what a later run deletes, or it is refused."""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from job_factory import make_job

from bulkops.errors import JobError
from bulkops.model import Auth, Job, Secret
from bulkops.records.plans import load_plan, plan_digest, write_plan

DAY = timedelta(days=1)
ROWS = [
    {"id": "cd-1", "name": "Spring", "status": "Completed", "createdAt": "2024-01-01T00:00:00Z"},
    {"id": "cd-2", "name": "Résumé ☎", "status": "Draft", "createdAt": None},
]  # fmt: skip


@pytest.fixture
def job(tmp_path: Path) -> Job:
    return make_job(tmp_path)


@pytest.fixture
def plan(tmp_path: Path, job: Job) -> Path:
    path = tmp_path / "plan.json"
    write_plan(path, job, ROWS)
    return path


def edit(path: Path, job: Job, **changes: Any) -> None:
    """Changes the plan as a dry run could have written it (the digest follows), to reach
    the check behind the digest; test_digest_* edit without it."""
    doc = json.loads(path.read_text())
    doc.update(changes)
    doc["digest"] = plan_digest(doc, job)
    path.write_text(json.dumps(doc))


def test_a_written_plan_loads_back_as_its_ids_in_order(plan: Path, job: Job) -> None:
    assert load_plan(plan, job, max_age=DAY) == ["cd-1", "cd-2"]
    doc = json.loads(plan.read_text(encoding="utf-8"))
    assert doc["count"] == 2 and doc["campaigns"] == ROWS  # what the reviewer reads
    assert stat.S_IMODE(plan.stat().st_mode) == 0o600


def test_a_plan_from_another_job_file_is_refused(plan: Path, job: Job) -> None:
    with pytest.raises(JobError, match="made from another job file"):
        load_plan(plan, replace(job, sha256="cd" * 32), max_age=DAY)
    with pytest.raises(JobError, match="made from another job file"):
        load_plan(plan, replace(job, name="other"), max_age=DAY)


@pytest.mark.parametrize(
    "target",
    [
        {"host": "http://127.0.0.1:10"},
        {"app_id": "st-other-app"},
        {"account_id": "acc-other"},
        {"campaign_type": "digital"},
    ],
)
def test_a_plan_for_another_target_is_refused(plan: Path, job: Job, target: dict[str, str]) -> None:
    other = replace(job, target=replace(job.target, **target))
    with pytest.raises(JobError, match="made for another target"):
        load_plan(plan, other, max_age=DAY)


def test_a_plan_older_than_the_allowed_age_is_refused(plan: Path, job: Job) -> None:
    created = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    edit(plan, job, created_at="2025-03-01T12:00:00.000Z")
    assert load_plan(plan, job, max_age=DAY, now=created + DAY) == ["cd-1", "cd-2"]
    later = created + DAY + timedelta(seconds=1)
    with pytest.raises(JobError, match=r"older than the allowed 1 day.*--plan-max-age"):
        load_plan(plan, job, max_age=DAY, now=later)
    edit(plan, job, created_at="last tuesday")
    with pytest.raises(JobError, match="older than the allowed"):
        load_plan(plan, job, max_age=DAY)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not a plan file \\(not JSON\\)"),
        ("", "not a plan file \\(not JSON\\)"),
        ("[1, 2]", "not a version 1 plan file"),
        ('{"version": 2, "campaigns": []}', "not a version 1 plan file"),
        ('{"campaigns": []}', "not a version 1 plan file"),
    ],
)
def test_a_file_that_is_not_a_version_1_plan_is_refused(
    tmp_path: Path, job: Job, content: str, problem: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(JobError, match=f"plan {path}: {problem}"):
        load_plan(path, job, max_age=DAY)


def test_a_missing_plan_is_refused_with_the_reason(tmp_path: Path, job: Job) -> None:
    with pytest.raises(JobError, match="cannot open it: No such file"):
        load_plan(tmp_path / "nope.json", job, max_age=DAY)


@pytest.mark.parametrize("campaigns", [None, {"id": "cd-1"}, "cd-1"])
def test_a_plan_without_a_campaigns_list_is_refused(
    plan: Path, job: Job, campaigns: object
) -> None:
    edit(plan, job, campaigns=campaigns)
    with pytest.raises(JobError, match="has no campaigns list"):
        load_plan(plan, job, max_age=DAY)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"id": "a/../../x"}, "contains '/'"),
        ({"id": "cd 1"}, "whitespace or a control character"),
        ({"id": ""}, "is empty"),
        ({"id": 12345}, "is a number"),
        ({"name": "no id"}, "got nothing"),
        ("cd-9", "got nothing"),
    ],
)
def test_a_bad_id_inside_is_refused_naming_its_place(
    plan: Path, job: Job, entry: object, problem: str
) -> None:
    edit(plan, job, campaigns=[{"id": "cd-1"}, entry])
    with pytest.raises(JobError, match=rf"campaigns\[1\].*{problem}"):
        load_plan(plan, job, max_age=DAY)


def test_digest_a_hand_edit_is_refused(plan: Path, job: Job) -> None:
    doc = json.loads(plan.read_text())
    doc["campaigns"].append({"id": "cd-never-previewed"})
    plan.write_text(json.dumps(doc))
    with pytest.raises(JobError, match="does not match its digest"):
        load_plan(plan, job, max_age=DAY)


def test_digest_a_plan_without_one_is_refused(plan: Path, job: Job) -> None:
    doc = json.loads(plan.read_text())
    del doc["digest"]
    plan.write_text(json.dumps(doc))
    with pytest.raises(JobError, match="does not match its digest"):
        load_plan(plan, job, max_age=DAY)


def test_a_repeated_id_or_a_future_date_is_refused(plan: Path, job: Job) -> None:
    edit(plan, job, campaigns=[{"id": "cd-1"}, {"id": "cd-2"}, {"id": "cd-1"}])
    with pytest.raises(JobError, match=r"campaigns\[2\]: id 'cd-1' repeats campaigns\[0\]"):
        load_plan(plan, job, max_age=DAY)
    edit(plan, job, campaigns=ROWS, created_at="2999-01-01T00:00:00.000Z")
    with pytest.raises(JobError, match="in the future"):
        load_plan(plan, job, max_age=DAY)


def test_a_symlinked_plan_is_refused(plan: Path, job: Job, tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(plan)
    with pytest.raises(JobError, match="symbolic link"):
        load_plan(link, job, max_age=DAY)


def test_digest_a_plan_recomputed_without_the_client_secret_is_refused(
    plan: Path, job: Job
) -> None:
    """A forger who edits the plan and recomputes a plain SHA-256 gets nowhere."""
    doc = json.loads(plan.read_text())
    doc["campaigns"].append({"id": "cd-forged"})
    body = {k: v for k, v in doc.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    doc["digest"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    plan.write_text(json.dumps(doc))
    with pytest.raises(JobError, match="does not match its digest"):
        load_plan(plan, job, max_age=DAY)
    edit(plan, replace(job, auth=replace(job.auth, client_secret=Secret("another-secret"))))
    with pytest.raises(JobError, match="made with another client secret"):
        load_plan(plan, job, max_age=DAY)


def test_a_job_with_only_a_token_keys_its_plans_with_the_token(tmp_path: Path, job: Job) -> None:
    with_token = replace(job, auth=Auth("", None, token=Secret("header.payload.sig")))
    path = tmp_path / "token-plan.json"
    write_plan(path, with_token, ROWS)
    assert load_plan(path, with_token, max_age=DAY) == ["cd-1", "cd-2"]
    other = replace(job, auth=Auth("", None, token=Secret("other.payload.sig")))
    with pytest.raises(JobError, match="does not match its digest"):
        load_plan(path, other, max_age=DAY)


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_a_plan_that_group_or_others_may_write_is_refused(plan: Path, job: Job, mode: int) -> None:
    plan.chmod(mode)
    with pytest.raises(JobError, match="group or others may write it"):
        load_plan(plan, job, max_age=DAY)
    plan.chmod(0o640)  # read by the group: fine, the digest is keyed
    assert load_plan(plan, job, max_age=DAY) == ["cd-1", "cd-2"]


def test_a_plan_nested_too_deep_is_no_plan(tmp_path: Path, job: Job) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"version": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(JobError, match="not a plan file .*nested deeper than 64 levels"):
        load_plan(path, job, max_age=DAY)
