"""Issue 11's rows: rate limits that hold whatever the network does (see bench/README.md).

strict   the sandbox refuses the N+1-th arrival in any 1 s; 1,000 deletes at 200/s, margin 0
jitter   the same at 50/s, each request held 0–150 ms before the sandbox counts it
shared   3 processes, 3 apps of one account, each at the account's 60/s, 300 ids each
redis    the same with a $XDG_STATE_HOME each (three machines) and one Redis
restart  a run at full rate killed with kill -9, restarted at once

The figure is the steady rate at the server: arrivals after the first N, over
the time from the N-th arrival to the last, ÷ N / (W + median latency), the
most response-anchored slots can give (each slot serves one request per
W + its round trip). Latency is the median ``duration_ms`` of the campaigns
answered at the first try, as the client measured it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import (
    SandboxProcess,
    bulkops_cmd,
    child_env,
    last_run_finished,
    write_ids,
    write_job,
)
from rows import Row, met_if
from runs import Bench, brief, log

APPS = ("st-sandbox-app", "st-app-2", "st-app-3")
RUN_TIMEOUT = 300.0


def steady_rate(arrivals: list[float], count: int) -> float:
    """Arrivals after the first ``count`` per second, from the ``count``-th to the last."""
    if len(arrivals) <= count:
        return 0.0
    span = arrivals[-1] - arrivals[count - 1]
    return (len(arrivals) - count) / span if span > 0 else 0.0


def median_latency(audit_logs: list[Path]) -> float:
    """Seconds: the median duration of first-try campaigns in these logs."""
    ms = []
    for log_path in audit_logs:
        for line in log_path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("event") == "campaign" and record.get("attempts") == 1:
                ms.append(record["duration_ms"])
    return statistics.median(ms) / 1000 if ms else 0.0


class _Runs:
    """Several ``bulkops run``s at once against one sandbox, as plain child processes."""

    def __init__(self, here: Path) -> None:
        self.here = here
        self.procs: list[tuple[str, subprocess.Popen[bytes], Any]] = []

    def start(self, label: str, job: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        err = open(self.here / f"{label}.stderr", "wb")  # noqa: SIM115 - closed in wait()
        cmd = [*bulkops_cmd(), "run", str(job), "--yes", "--quiet"]
        proc = subprocess.Popen(cmd, env=env, cwd=self.here, stdout=err, stderr=err)
        self.procs.append((label, proc, err))
        return proc

    def wait(self) -> list[str]:
        problems = []
        for label, proc, err in self.procs:
            try:
                code = proc.wait(RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            err.close()
            if code not in (0, -signal.SIGKILL):
                tail = (self.here / f"{label}.stderr").read_text(errors="replace").strip()[-200:]
                problems.append(f"{label} exit {code}: {tail}")
        return problems


def _env(state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in child_env().items() if not k.startswith("BULKOPS_")}
    return {**env, "XDG_STATE_HOME": str(state), **extra}


def _figure_row(
    name: str, what: str, stats: dict[str, Any], logs: list[Path], count: int, window: float,
    goal: float, problems: list[str], expected: int, *, of_limit: bool = False,
) -> Row:  # fmt: skip
    """``of_limit``: the figure is against N/W itself (the account's limit), not N/(W+L)."""
    arrivals = sorted(stats["arrivals"])
    latency = median_latency([p for p in logs if p.exists()])
    best = count / (window + (0.0 if of_limit else latency))
    rate = steady_rate(arrivals, count)
    refused = stats["rate_limited"]
    deleted = len(stats["deleted_ids"])
    if deleted != expected:
        problems.append(f"sandbox deleted {deleted} of {expected}")
    figure = rate / best if best else 0.0
    ideal = f"N/(W+L) = {best:.1f}/s (L {latency * 1000:.0f} ms)"
    if of_limit:
        ideal = f"limit N/W = {best:.1f}/s (L {latency * 1000:.0f} ms)"
    return Row(
        name, what, f"{rate:.1f}/s, {refused}×429", ideal,
        f"{figure:.3f}, {refused}×429", f"≥ {goal:.2f}, 0×429",
        met_if(figure >= goal and refused == 0, problems), problems,
        {"stats": brief(stats), "steady_rate": rate, "best": best, "latency_s": latency},
    )  # fmt: skip


def row_strict(b: Bench, name: str, n: int, rate: str, goal: float, jitter: float = 0.0) -> Row:
    here, ids = b.rundir(name), b.ids(n)
    count = int(rate.split("/")[0])
    log(f"row {name}: {n} deletes at {rate}, margin 0, arrival jitter {jitter * 1000:.0f} ms")
    extra = ("--arrival-jitter", str(jitter)) if jitter else ()
    with SandboxProcess(here, ids, rates=(rate,), extra=extra) as sb:
        job = write_job(here / "job.yaml", host=sb.url, ids_file=ids, concurrency=64,
                        rates=(rate,), rate_margin=0.0)  # fmt: skip
        runs = _Runs(here)
        runs.start("bulkops", job, _env(here / "state"))
        problems = runs.wait()
        stats = sb.stats()
    problems += sb.problems
    what = f"{n:,} deletes, strict {rate}, margin 0" + (
        f", 0–{jitter * 1000:.0f} ms before arrival" if jitter else ""
    )
    row = _figure_row(name, what, stats, [job.with_suffix(".jsonl")], count, 1.0, goal, problems, n)
    b.done(here, row.notes)
    return row


def row_shared(b: Bench, name: str, redis_url: str | None) -> Row:
    here = b.rundir(name)
    per_job, count = 300, 60
    all_ids = write_ids(here / "ids-all.txt", per_job * 3)
    log(f"row {name}: 3 processes × {per_job} ids, one account at {count}/s"
        + (", one Redis" if redis_url else ", one machine"))  # fmt: skip
    extra = tuple(x for app in APPS[1:] for x in ("--more-app-id", app))
    with SandboxProcess(here, all_ids, rates=(f"{count}/s",), extra=extra) as sb:
        runs, logs = _Runs(here), []
        ids = all_ids.read_text().split()
        for i, app in enumerate(APPS):
            mine = here / f"ids-{i}.txt"
            mine.write_text("\n".join(ids[i * per_job : (i + 1) * per_job]) + "\n")
            job = write_job(
                here / f"job-{i}.yaml", host=sb.url, ids_file=mine, concurrency=16,
                rates=(f"{count}/s",), rate_margin=0.0, app_id=app, name=f"bench-{i}",
            )  # fmt: skip
            logs.append(job.with_suffix(".jsonl"))
            if redis_url:  # three machines: a state home each, one Redis
                env = _env(here / f"state-{i}", BULKOPS_RATE_STORE=redis_url)
            else:
                env = _env(here / "state")
            runs.start(f"bulkops-{i}", job, env)
        problems = runs.wait()
        stats = sb.stats()
    problems += sb.problems
    where = "one Redis, 3 state homes" if redis_url else "one machine"
    what = f"3 runs × {per_job}, 3 apps of one account at {count}/s, {where}"
    row = _figure_row(
        name, what, stats, logs, count, 1.0, 0.90, problems, per_job * 3, of_limit=True
    )
    durations = ", ".join(f"{d:.1f} s" if d else "?" for d in map(_run_duration, logs))
    b.done(here, problems)  # (clean runs' files go: read them first)
    row.notes = [f"each run's duration (fair shares finish together): {durations}", *problems]
    return row


def _run_duration(audit_log: Path) -> float | None:
    finished = last_run_finished(audit_log)
    return None if finished is None else float(finished["duration_s"])


def row_redis(b: Bench) -> Row:
    return row_redis_with(b, lambda url: row_shared(b, "redis", url), "redis")


def row_redis_with(b: Bench, row: Callable[[str], Row], name: str) -> Row:
    """``row(url)`` with a redis-server of its own on a loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        return Row(name, "through one Redis", "—", "—", "—", "≥ 0.90, 0×429", False,
                   ["redis-server not installed (make test installs it)"])  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        return row(f"redis://127.0.0.1:{port}/0")
    finally:
        server.terminate()
        server.wait(10)


def row_restart(b: Bench) -> Row:
    here, n, rate = b.rundir("restart"), 1000, "100/s"
    ids = b.ids(n)
    log(f"row restart: {n} deletes at {rate}, kill -9 after 2 s, restarted at once")
    with SandboxProcess(here, ids, rates=(rate,)) as sb:
        job = write_job(here / "job.yaml", host=sb.url, ids_file=ids, concurrency=64,
                        rates=(rate,), rate_margin=0.0)  # fmt: skip
        env = _env(here / "state")
        first = _Runs(here)
        proc = first.start("killed", job, env)
        time.sleep(2.0)
        os.kill(proc.pid, signal.SIGKILL)
        problems = first.wait()
        killed_at = time.monotonic()
        second = _Runs(here)
        second.start("restarted", job, env)
        problems += second.wait()
        stats = sb.stats()
    problems += sb.problems
    arrivals = sorted(stats["arrivals"])
    before = sum(1 for t in arrivals if t < killed_at)
    after = [t for t in arrivals if t >= killed_at]
    burst = max((sum(1 for u in after if t <= u < t + 1.0) for t in after), default=0)
    deleted = len(stats["deleted_ids"])
    if deleted != n:
        problems.append(f"sandbox deleted {deleted} of {n}")
    refused = stats["rate_limited"]
    row = Row(
        "restart", f"{n:,} deletes at strict {rate}: kill -9 after 2 s, restart at once",
        f"{before} before the kill, {len(after)} after, {refused}×429",
        f"most in 1 s after restart: {burst}", f"{refused}×429", "0×429",
        met_if(refused == 0, problems), problems, {"stats": brief(stats)},
    )  # fmt: skip
    b.done(here, problems)
    return row


def rate_rows(b: Bench, wanted: set[str]) -> list[tuple[str, Any]]:
    plan: list[tuple[str, Any]] = []
    if "strict" in wanted:
        plan.append(("strict", lambda: [row_strict(b, "strict", 1000, "200/s", 0.97)]))
    if "jitter" in wanted:
        plan.append(("jitter", lambda: [row_strict(b, "jitter", 1000, "50/s", 0.90, 0.15)]))
    if "shared" in wanted:
        plan.append(("shared", lambda: [row_shared(b, "shared", None)]))
    if "redis" in wanted:
        plan.append(("redis", lambda: [row_redis(b)]))
    if "restart" in wanted:
        plan.append(("restart", lambda: [row_restart(b)]))
    return plan
