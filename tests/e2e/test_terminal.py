"""On a terminal: confirmation before real deletes, and the live progress line."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import env, read_audit, write_job


class Terminal:
    """bulkops with stdin, stdout and stderr on a pseudo-terminal."""

    def __init__(self, *args: str | Path, cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bulkops", *map(str, args)],
            cwd=cwd, env=env(), stdin=slave, stdout=slave, stderr=slave, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.screen = ""

    def read_until(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, f"never saw {text!r} in {self.screen!r}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break
        return self.screen

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self) -> int:
        code = self.proc.wait(timeout=30)
        self.read_until("", timeout=1)
        os.close(self.master)
        return code


def test_confirmation_shows_count_and_target_and_no_means_nothing_sent(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=4)
    term = Terminal("run", write_job(tmp_path, sandbox, ids), cwd=tmp_path)
    prompt = term.read_until("Type 'yes' to continue")
    assert "About to DELETE 4 campaigns from " + sandbox.url in prompt
    assert "st-sandbox-app" in prompt and "acc-sandbox" in prompt
    term.type("no\n")
    assert term.wait() == 2
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]
    assert read_audit(tmp_path / "audit.jsonl") == []


def test_yes_at_the_prompt_deletes_with_a_live_progress_line(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=30)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["30/s"], "concurrency": 2})
    sandbox.configure(latency=0.02)
    term = Terminal("run", job, cwd=tmp_path)
    term.read_until("Type 'yes' to continue")
    term.type("yes\n")
    screen = term.read_until("completed: deleted 30")
    assert term.wait() == 0
    assert "\r" in screen and "30/30" in screen and "/s" in screen  # the redrawn progress line
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(ids)


def test_the_eta_counts_the_wait_for_the_next_rate_window(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=8)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["6/2s"], "concurrency": 6})
    term = Terminal("run", job, "--yes", cwd=tmp_path)
    screen = term.read_until("completed: deleted 8")
    assert term.wait() == 0
    waiting = [line for line in screen.split("\r") if " 6/8 " in line]
    assert waiting, screen  # drawn while the last 2 wait for the window to let them go
    assert all("ETA 0:00:00" not in line for line in waiting), waiting
    assert any("ETA 0:00:01" in line or "ETA 0:00:02" in line for line in waiting), waiting
