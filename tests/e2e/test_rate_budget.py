"""A run's rate budget seen from outside: shared by concurrent runs on one account, kept
in Redis when asked, honest about refusals, deaf to impossible history."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from bulkops.sandbox import SandboxThread
from bulkops.sandbox.config import Rate
from bulkops.sandbox.state import RollingWindows
from tests.e2e.harness import bulkops, read_audit, start_bulkops, wait_until, write_job
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
    wait_until("5 deletes", lambda: len(sandbox.stats_snapshot()["deleted_ids"]) >= 5, proc)
    redis_server.stop()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "cannot be used" in err and "stopping" in err
    sent = sandbox.stats_snapshot()["total_requests"]
    assert sent < 25  # it stopped within the window it had, not at the end of the list
    # every request the server saw is one the run counted before it ended: none left behind
    finished = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "run_finished"]
    assert finished[-1]["requests"] == sent


def test_two_runs_on_two_apps_of_one_account_share_its_limit(tmp_path: Path) -> None:
    with SandboxThread(campaigns=0, seed=3, more_app_ids=("st-app-2",), rates=("20/s",)) as sb:
        runs = []
        for app in ("st-sandbox-app", "st-app-2"):
            here = tmp_path / app
            here.mkdir()
            ids = sb.sandbox.add_campaigns(count=12)
            target = {"host": sb.url, "app_id": app, "account_id": "acc-sandbox"}
            job = write_job(here, sb, ids, run={"rate": "20/s", "concurrency": 8}, target=target)
            # one machine: one $XDG_STATE_HOME, so one budget for the account
            runs.append(start_bulkops("run", job, "--yes", cwd=here, XDG_STATE_HOME=str(tmp_path)))
        for proc in runs:
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
        stats = sb.stats_snapshot()
    assert stats["rate_limited"] == 0 and len(stats["deleted_ids"]) == 24
    arrivals = stats["arrivals"]
    assert all(b - a >= 1.0 for a, b in zip(arrivals, arrivals[20:], strict=False))
    assert arrivals[-1] - arrivals[0] < 6  # 24 at 20/s: ideally 1 s (bench row "shared" times it)


def test_a_rate_refusal_is_warned_once_and_counted_at_the_end(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.sandbox.add_campaigns(count=3)
    sandbox.configure(
        scripted={ids[0]: [429], ids[1]: [429]}, scripted_retry_after=0.05, retry_after_mode="exact"
    )
    job = write_job(tmp_path, sandbox, ids, run={"rate": "100/s", "concurrency": 1})
    result = bulkops("run", job, "--yes", "--summary-json", tmp_path / "s.json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stderr.count("the server refused a request for rate (HTTP 429") == 1
    assert "the server refused 2 requests for rate in this run (limit 100/s)" in result.stderr
    assert '"rate_limited": 2' in (tmp_path / "s.json").read_text()


def test_history_stamped_in_the_future_is_ignored_with_a_warning(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.sandbox.add_campaigns(count=4)
    job = write_job(tmp_path, sandbox, ids, run={"rate": "5/min"})
    target = {"host": sandbox.url, "app_id": "st-sandbox-app", "account_id": "acc-sandbox"}
    lines = [
        {"event": "run_started", "ts": "2099-01-01T00:00:00.000Z", "run_id": "r0", "job": "e2e",
         "dry_run": True, "total": 5, "target": target},
        *({"event": "campaign", "ts": "2099-01-01T00:00:01.000Z", "run_id": "r0", "job": "e2e",
           "campaign_id": f"old-{n}", "outcome": "would_delete", "attempts": 1} for n in range(5)),
    ]  # fmt: skip
    (tmp_path / "audit.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    # counted, those times would hold the 5/min window until 2099: the run would never end
    # (that it waits no time at all is unit/ratelimit/test_limiter.py's, on a fake clock)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(ids)
    assert "5 request times lie in the future" in result.stderr
    assert "was the clock set back?" in result.stderr


def test_report_shows_the_achieved_rate_next_to_the_limit(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.sandbox.add_campaigns(count=6)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["20/s", "600/min"]})
    assert bulkops("run", job, "--yes", cwd=tmp_path).code == 0
    report = bulkops("report", tmp_path / "audit.jsonl", cwd=tmp_path)
    assert report.code == 0, report.stderr
    line = next(x for x in report.stdout.splitlines() if "against the limit" in x)
    assert line.strip().endswith("against the limit 20/s, 600/min (10.00/s)")
    started = next(r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "run_started")
    assert started["rate"] == ["20/s", "600/min"]


def most_in_any_second(arrivals: list[float]) -> int:
    """The most requests the server admitted within any one second."""
    times = sorted(arrivals)
    return max((sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times)),
               default=0)  # fmt: skip


@pytest.mark.long
def test_stop_then_delete_at_one_a_second_never_holds_a_slot_while_waiting(
    tmp_path: Path,
) -> None:
    """Each Stop call takes a slot of its own and is answered before its DELETE is sent: four
    Active campaigns at 1/s, concurrency 2, against a server that refuses a second request
    within a second, take 9 requests in 9 slots, none refused."""
    active = [f"cd-live-{i}" for i in range(4)]
    with SandboxThread(campaigns=0, seed=7, rates=("1/s",)) as sandbox:
        sandbox.add_campaigns([{"_id": i, "status": "Active"} for i in active])
        run = {"rate": "1/s", "concurrency": 2, "stop_before_delete": True}
        job = write_job(tmp_path, sandbox, active, run=run)
        result = bulkops("run", job, "--yes", cwd=tmp_path, timeout=60)
        stats = sandbox.stats_snapshot()
    assert result.code == 0, result.stderr
    assert sorted(stats["stopped_ids"]) == active and sorted(stats["deleted_ids"]) == active
    assert stats["rate_limited"] == 0
    assert most_in_any_second(stats["arrivals"]) == 1
    assert stats["total_requests"] == 9  # one list call, then a Stop and a DELETE each
    # one request a second, no stall per pair, is unit/engine/test_pool.py's, in virtual time
    assert all(line["campaign"]["status"] == "Stopped" for line in result.campaigns())
    finished = result.finished()
    assert (finished["requests"], finished["error"], finished["exit_code"]) == (9, None, 0)


def test_refusals_from_a_rate_above_the_servers_say_lower_run_rate(tmp_path: Path) -> None:
    """A job at 20/s against a strict 10/s server: the server never took the job's count
    in a second, so the closing warning asks for a lower run.rate and blames nobody else."""
    closing = _closing_warning_of_a_run_at_20_a_second(tmp_path, server="10/s", count=25)
    assert re.search(r"run\.rate 20/s is above what the server took \(\d+ in 1s\): lower run\.rate",
                     closing), closing  # fmt: skip
    took = int(re.findall(r"took \((\d+) in", closing)[0])
    assert 0 < took <= 10 and "another client" not in closing


def test_refusals_after_the_server_took_the_full_rate_blame_another_client(
    tmp_path: Path,
) -> None:
    """A job at 20/s on a strict 20/s server is never refused alone; once another client
    fills the server's window mid-run, the closing warning says the budget is shared."""
    closing = _closing_warning_of_a_run_at_20_a_second(
        tmp_path, server="20/s", count=45, another_client_after=25
    )
    assert re.search(r"the server took only \d+ of the 20 the job allows in 1s: another client "
                     "shares the budget", closing), closing  # fmt: skip
    assert "lower run.rate" not in closing


def _closing_warning_of_a_run_at_20_a_second(
    tmp_path: Path, *, server: str, count: int, another_client_after: int | None = None
) -> str:
    """A run at 20/s against a strict ``server`` rate, refused at least once and finished:
    its closing warning about the refusals."""
    with SandboxThread(campaigns=0, seed=7, rates=(server,)) as sandbox:
        ids = sandbox.add_campaigns(count=count)
        if another_client_after is not None:
            state = sandbox.sandbox.state
            state.limiter = _AnotherClientArrives(state.settings.rates, another_client_after)
        job = write_job(tmp_path, sandbox, ids, run={"rate": "20/s", "concurrency": 4})
        result = bulkops("run", job, "--yes", cwd=tmp_path, timeout=60)
        stats = sandbox.stats_snapshot()
    assert result.code == 0, result.stderr
    assert stats["rate_limited"] >= 1 and len(stats["deleted_ids"]) == count
    return next(x for x in result.stderr.splitlines() if "for rate in this run" in x)


class _AnotherClientArrives(RollingWindows):
    """The server's windows, where another client fills the window just before the
    request after ``after``: it arrives inside the server, so no timing of the test's."""

    def __init__(self, rates: Iterable[Rate], after: int) -> None:
        super().__init__(rates)
        self._left = after

    def admit(self, now: float) -> float | None:
        self._left -= 1
        if self._left == -1:
            for _ in range(20):
                super().admit(now)
        return super().admit(now)
