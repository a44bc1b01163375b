"""`make demo`'s script works: sandbox up, validate, preview, run, report, restore, sandbox down."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import REPO, env


@pytest.mark.long
def test_the_demo_runs_the_example_job_end_to_end(tmp_path: Path) -> None:
    bulkops = Path(sys.executable).parent / "bulkops"
    demo = subprocess.run(
        ["bash", str(REPO / "scripts/demo.sh")],
        env=env(BULKOPS=str(bulkops)), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = demo.stdout + demo.stderr
    assert demo.returncode == 0, out
    assert "31 campaigns would be deleted" in out  # and 6 Active ones protected
    assert "completed: deleted 31  not_found 2  protected 6" in out
    assert "sandbox stopped: " in out and "31 deleted, 0 rate-limited" in out
    assert "would_restore 31" in out and "restored 31, would_restore 0, exists 0, failed 0" in out
    # the report's requests/s, of the dry run and the real one, never above the limit kept
    rates = re.findall(r"^  requests \d+  ([\d.]+)/s .*against the limit 10/s, 600/min", out, re.M)
    assert len(rates) == 2 and all(float(rate) <= 10 for rate in rates), out
