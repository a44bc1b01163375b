"""Every kind of bad input exits 2, names what is wrong, and sends nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, write_job


def edit(job: Path, change: Any) -> None:
    doc = yaml.safe_load(job.read_text())
    change(doc)
    job.write_text(yaml.safe_dump(doc, sort_keys=False))


CASES = {
    "unknown key": (lambda d: d["run"].update(concurency=4), "concurency"),
    "wrong type": (lambda d: d["run"].update(concurrency="many"), "run.concurrency"),
    "bad rate": (lambda d: d["run"].update(rate=["60 per minute"]), "run.rate"),
    "id with slash": (lambda d: d.update(campaigns=["cd-1/../x"]), "campaigns"),
    "id with space": (lambda d: d.update(campaigns=["cd 1"]), "campaigns"),
    "inline secret": (
        lambda d: d["auth"].update(client_secret="hunter2-hunter2"),
        "auth.client_secret",
    ),
    "missing env": (
        lambda d: d["auth"].update(client_secret_env="NOT_SET_ANYWHERE"),
        "NOT_SET_ANYWHERE",
    ),
    "unreadable ids": (lambda d: d.update(campaigns_file="nope.txt"), "nope.txt"),
    "select and campaigns": (lambda d: d.update(select={"status": ["Stopped"]}), "select"),
    "plain http elsewhere": (
        lambda d: d["target"].update(host="http://kore.example"),
        "target.host",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_and_sends_nothing(
    tmp_path: Path, sandbox: SandboxThread, case: str
) -> None:
    change, names = CASES[case]
    ids = sandbox.add_campaigns(count=3)
    job = write_job(tmp_path, sandbox, ids)
    edit(job, change)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 2, result.stderr
    assert names in result.stderr
    assert "hunter2" not in result.stderr
    assert len(result.stderr) < 2000
    assert sandbox.stats_snapshot()["total_requests"] == 0
    assert not (tmp_path / "audit.jsonl").exists()
    validated = bulkops("validate", job, cwd=tmp_path)
    assert validated.code == 2 and names in validated.stderr


def test_validate_prints_what_the_job_would_do(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=3)
    result = bulkops("validate", write_job(tmp_path, sandbox, ids), cwd=tmp_path)
    assert result.code == 0
    assert sandbox.url in result.stdout and "3 ids" in result.stdout
    assert sandbox.stats_snapshot()["total_requests"] == 0


def test_report_on_a_job_file_says_so_and_fails(tmp_path: Path, sandbox: SandboxThread) -> None:
    job = write_job(tmp_path, sandbox, ["cd-1"])
    result = bulkops("report", job, cwd=tmp_path)
    assert result.code == 2 and result.stdout == ""
    log = tmp_path / "audit.jsonl"
    assert (
        f"is not an audit log (one JSON object a line): it is a job file; its audit log is {log}"
        in (result.stderr)
    )
