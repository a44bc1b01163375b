"""`bulkops run`'s usage checks that need the job: refused before anything is sent."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pytest
from job_factory import make_job

from bulkops.cli.main import build_parser
from bulkops.cli.run_command import _check_run_args
from bulkops.errors import JobError
from bulkops.records.plans import write_plan


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def args(*flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", "job.yaml", *flags])


def check(
    tmp_path: Path, *flags: str, tty: tuple[str, ...] = ("stdin", "stderr")
) -> list[str] | None:
    """The checks as ``bulkops run job.yaml FLAGS`` makes them, with ``tty`` streams on a terminal
    (patched here: pytest swaps sys.stderr between a fixture and the test)."""
    parsed = args(*flags)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("stdin", "stderr"):
            patch.setattr(sys, name, Stream(tty=name in tty))
        return _check_run_args(parsed, make_job(tmp_path, dry_run=parsed.dry_run))


def test_plan_out_needs_dry_run(tmp_path: Path) -> None:
    with pytest.raises(JobError, match="--plan-out needs --dry-run"):
        check(tmp_path, "--plan-out", "plan.json", "--yes")
    assert check(tmp_path, "--plan-out", "plan.json", "--dry-run") is None


def test_plan_is_for_real_runs_only(tmp_path: Path) -> None:
    with pytest.raises(JobError, match="--plan runs a reviewed plan for real; drop --dry-run"):
        check(tmp_path, "--plan", "plan.json", "--dry-run")


@pytest.mark.parametrize("tty", [(), ("stdin",), ("stderr",)])
def test_without_a_terminal_a_real_run_needs_yes(tmp_path: Path, tty: tuple[str, ...]) -> None:
    with pytest.raises(JobError, match="without a terminal to confirm on: pass --yes"):
        check(tmp_path, tty=tty)
    assert check(tmp_path, "--yes", tty=tty) is None
    # a preview deletes nothing: nothing to confirm
    assert check(tmp_path, "--dry-run", tty=tty) is None


def test_at_a_terminal_a_real_run_may_ask_instead(tmp_path: Path) -> None:
    assert check(tmp_path) is None


def test_plan_returns_the_plans_ids(tmp_path: Path) -> None:
    write_plan(tmp_path / "plan.json", make_job(tmp_path), [{"id": "cd-1"}, {"id": "cd-2"}])
    assert check(tmp_path, "--plan", str(tmp_path / "plan.json"), "--yes") == ["cd-1", "cd-2"]


def test_plan_max_age_must_be_an_age(tmp_path: Path) -> None:
    write_plan(tmp_path / "plan.json", make_job(tmp_path), [{"id": "cd-1"}])
    plan = str(tmp_path / "plan.json")
    with pytest.raises(JobError, match="--plan-max-age: expected an age like 30m, 24h or 7d"):
        check(tmp_path, "--plan", plan, "--plan-max-age", "tomorrow", "--yes")
    assert check(tmp_path, "--plan", plan, "--plan-max-age", "30m", "--yes") == ["cd-1"]
