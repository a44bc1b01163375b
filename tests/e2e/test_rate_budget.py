"""A run's rate budget seen from outside: shared by concurrent runs on one account, kept
in Redis when asked, honest about refusals, deaf to impossible history."""

from __future__ import annotations

import time
from pathlib import Path

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, start_bulkops, write_job
from tests.redis_server import RedisServer, free_port


def test_a_run_whose_redis_is_unreachable_sends_nothing_and_exits_3(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.sandbox.add_campaigns(count=3)
    url = f"redis://127.0.0.1:{free_port()}/0"
    job = write_job(tmp_path, sandbox, ids, run={"rate": "50/s"})
    result = bulkops("run", job, "--yes", cwd=tmp_path, BULKOPS_RATE_STORE=url)
    assert result.code == 3, result.stderr
    assert f"the shared rate budget at {url} cannot be used" in result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 0
    assert result.finished()["reason"] == "aborted"
    assert result.finished()["counts"]["pending"] == 3


def test_a_run_that_loses_redis_midway_stops_sending_and_exits_3(
    tmp_path: Path, sandbox: SandboxThread, redis_server: RedisServer
) -> None:
    ids = sandbox.sandbox.add_campaigns(count=40)
    job = write_job(tmp_path, sandbox, ids, run={"rate": "10/s", "rate_store": redis_server.url})
    proc = start_bulkops("run", job, "--yes", cwd=tmp_path)
    deadline = time.monotonic() + 20
    while len(sandbox.stats_snapshot()["deleted_ids"]) < 5:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    redis_server.stop()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "cannot be used" in err and "stopping" in err
    sent = sandbox.stats_snapshot()["total_requests"]
    assert sent < 25  # it stopped within the window it had, not at the end of the list
    time.sleep(0.3)
    assert sandbox.stats_snapshot()["total_requests"] == sent
