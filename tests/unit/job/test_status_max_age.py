"""``run.status_max_age``: an age like other ages (30s, 5m, 1h), default 5m; errors name it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkops.errors import JobError
from bulkops.job import load_job
from bulkops.model import Job

JOB = """\
version: 1
name: t
target: {host: "https://platform.kore.ai", app_id: st-1, account_id: acc-1}
auth: {client_id: cs-1, client_secret_env: KOREAI_CLIENT_SECRET}
campaigns: [cd-1]
"""
ENV = {"KOREAI_CLIENT_SECRET": "s3cret"}


def load(tmp_path: Path, run: str) -> Job:
    path = tmp_path / "job.yaml"
    path.write_text(JOB + run)
    return load_job(path, environ=ENV)


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600)])
def test_an_age_is_read_in_seconds(tmp_path: Path, text: str, seconds: float) -> None:
    assert load(tmp_path, f"run: {{status_max_age: {text}}}\n").run.status_max_age == seconds


def test_the_default_is_five_minutes(tmp_path: Path) -> None:
    assert load(tmp_path, "").run.status_max_age == 300


@pytest.mark.parametrize("bad", ["0s", "5", "soon", "2d", "''", "[1m]", "-5m"])
def test_a_bad_age_names_the_field(tmp_path: Path, bad: str) -> None:
    with pytest.raises(JobError, match=r"run\.status_max_age"):
        load(tmp_path, f"run: {{status_max_age: {bad}}}\n")
