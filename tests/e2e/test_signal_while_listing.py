"""SIGINT or SIGTERM while a ``select`` job is being listed, by ``run`` or ``list``.

The list call is still unanswered when the signal comes: bulkops exits with the
signal's code (130, 143) and its one summary line, and under ``--log-format json``
every line on stderr is a JSON object: no traceback, no "Task exception was never
retrieved" from a list call left behind.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import start_bulkops, wait_until, write_job

CASES = [("run", signal.SIGINT, 130), ("list", signal.SIGTERM, 143)]


@pytest.mark.parametrize(("command", "sig", "code"), CASES)
def test_a_signal_while_listing_exits_with_its_code_and_only_json_lines(
    tmp_path: Path, sandbox: SandboxThread, command: str, sig: int, code: int
) -> None:
    sandbox.add_campaigns(count=3)
    sandbox.configure(latency=1.5)  # the list call is still unanswered at the signal
    job = write_job(tmp_path, sandbox, select={"status": ["Stopped", "Completed", "Active"]},
                    run={"timeout": 10})  # fmt: skip
    extra = ["--yes"] if command == "run" else []
    proc = start_bulkops(command, job, *extra, "--log-format", "json", cwd=tmp_path)
    wait_until("the list call", lambda: bool(sandbox.stats_snapshot()["total_requests"]), proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == code, err
    records = [json.loads(line) for line in err.splitlines()]  # every line is JSON
    assert any("interrupted" in r["message"] for r in records), err
    assert "Traceback" not in err and "never retrieved" not in err
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]
