"""The exit code a run ends with, by reason, failures and signal (SPEC "Exit codes")."""

from __future__ import annotations

import signal

import pytest

from bulkops.model import REASONS, exit_code_for


def test_a_completed_run_exits_0_without_failures_and_1_with_any() -> None:
    assert exit_code_for("completed", failed=0) == 0
    assert exit_code_for("completed", failed=1) == 1
    assert exit_code_for("completed", failed=250) == 1


@pytest.mark.parametrize("reason", ["aborted", "halted"])
def test_aborted_and_halted_exit_3_whatever_failed(reason: str) -> None:
    assert exit_code_for(reason, failed=0) == 3
    assert exit_code_for(reason, failed=7) == 3


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (None, 130)]
)
def test_an_interrupted_run_exits_with_its_signals_code(signum: int | None, code: int) -> None:
    assert exit_code_for("interrupted", failed=0, signum=signum) == code
    # the signal wins over failures: 130/143 come before 1 in SPEC's order
    assert exit_code_for("interrupted", failed=3, signum=signum) == code


def test_every_reason_has_a_code_and_only_completed_can_be_0() -> None:
    codes = {reason: exit_code_for(reason, failed=0) for reason in REASONS}
    assert codes == {"completed": 0, "interrupted": 130, "aborted": 3, "halted": 3}
