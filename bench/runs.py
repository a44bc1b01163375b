"""The benchmark's measured runs: each against a fresh sandbox process, failures collected.

``Bench`` owns the work directory and the id files; every run returns a plain
dict (process cost, the audit log's duration, the sandbox's view, problems)
that goes into results.json as it is.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline import mint
from harness import (
    ACCOUNT_ID,
    APP_ID,
    BENCH,
    CLIENT_ID,
    SECRET,
    Measured,
    SandboxProcess,
    bulkops_cmd,
    child_env,
    last_run_finished,
    measure,
    sandbox_problems,
    write_ids,
    write_job,
)

RUN_TIMEOUT = 900.0  # seconds: the 200k-id run is the longest child


@dataclass(frozen=True)
class Sizes:
    """How much work each row does: the full run, or ``--quick``'s smoke version."""

    throughput: int = 5_000
    reps: int = 3
    curl: int = 5_000
    latency: int = 2_000
    rate_single: int = 1_000
    rate_double: int = 1_000
    scale: tuple[int, ...] = (10_000, 100_000, 200_000)
    help_reps: int = 5


QUICK = Sizes(
    throughput=1_000,
    reps=1,
    curl=500,
    latency=500,
    rate_single=300,
    rate_double=450,
    scale=(10_000,),
    help_reps=3,
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def brief(stats: dict[str, Any], arrivals: bool = False) -> dict[str, Any]:
    """The part of the sandbox's stats worth keeping in results.json."""
    keep = ("total_requests", "by_method", "by_status", "rate_limited", "dropped", "max_in_flight")
    doc = {k: stats.get(k) for k in keep}
    doc["deleted"] = len(stats.get("deleted_ids", ()))
    if arrivals:
        doc["arrivals"] = stats.get("arrivals", [])
    return doc


def proc_doc(m: Measured) -> dict[str, Any]:
    return {
        "returncode": m.returncode,
        "wall_s": round(m.wall_s, 4),
        "user_s": round(m.user_s, 4),
        "sys_s": round(m.sys_s, 4),
        "maxrss_mb": round(m.maxrss_mb, 1),
    }


class Bench:
    """One benchmark session: a work directory, the sizes, and the runs it makes."""

    def __init__(self, workdir: Path, sizes: Sizes, rate_margin: float | None, keep: bool) -> None:
        self.workdir = workdir
        self.sizes = sizes
        self.rate_margin = rate_margin
        self.keep = keep
        self.env = child_env()
        self._ids: dict[int, Path] = {}
        self._seq = 0
        self.failed = False

    def ids(self, n: int) -> Path:
        if n not in self._ids:
            self._ids[n] = write_ids(self.workdir / f"ids-{n}.txt", n)
        return self._ids[n]

    def rundir(self, label: str) -> Path:
        self._seq += 1
        path = self.workdir / f"{self._seq:02d}-{label}"
        path.mkdir()
        return path

    def done(self, path: Path, problems: list[str]) -> None:
        """A run's files go unless it had problems (or ``keep``): then they stay to look at."""
        if problems:
            self.failed = True
            log(f"problems, files kept in {path}: {'; '.join(problems)}")
        elif not self.keep:
            shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------ one measured run

    def bulkops(
        self,
        label: str,
        n: int,
        *,
        concurrency: int = 64,
        rates: tuple[str, ...] = (),
        latency: float = 0.0,
        keep_arrivals: bool = False,
    ) -> dict[str, Any]:
        """``bulkops run`` against a fresh sandbox enforcing the same ``rates`` as the job."""
        here, ids = self.rundir(label), self.ids(n)
        margin = self.rate_margin if rates else None
        with SandboxProcess(here, ids, rates=rates, latency=latency) as sb:
            job = write_job(
                here / "job.yaml",
                host=sb.url,
                ids_file=ids,
                concurrency=concurrency,
                rates=rates,
                rate_margin=margin,
            )
            cmd = [*bulkops_cmd(), "run", str(job), "--yes", "--quiet"]
            cmd += ["--summary-json", str(here / "summary.json")]
            m = measure(cmd, env=self.env, cwd=here, timeout=RUN_TIMEOUT, tag="bulkops")
            stats = sb.stats()
        finished = last_run_finished(job.with_suffix(".jsonl"))
        odd = sandbox_problems(stats, n, limited=bool(rates))
        problems = [p for p in [m.problem(), *odd, *sb.problems] if p]
        if finished is None:
            problems.append("no run_finished line in the audit log")
        elif finished["counts"].get("deleted") != n:
            problems.append(f"audit log counts {finished['counts']}")
        self.done(here, problems)
        return {
            "proc": proc_doc(m),
            "duration_s": finished["duration_s"] if finished else None,
            "stats": brief(stats, keep_arrivals),
            "sandbox_cpu_s": round(sb.cpu_s, 3),
            "problems": problems,
        }

    def baseline(
        self, label: str, n: int, *, concurrency: int = 64, latency: float = 0.0
    ) -> dict[str, Any]:
        here, ids = self.rundir(label), self.ids(n)
        with SandboxProcess(here, ids, latency=latency) as sb:
            cmd = [sys.executable, str(BENCH / "baseline.py"), "--url", sb.url, "--ids", str(ids)]
            cmd += ["--concurrency", str(concurrency)]
            m = measure(cmd, env=self.env, cwd=here, timeout=RUN_TIMEOUT, tag="baseline")
            stats = sb.stats()
        problems = [p for p in [m.problem(), *sandbox_problems(stats, n), *sb.problems] if p]
        try:
            own = json.loads(m.stdout)
        except ValueError:
            own = {}
            problems.append("baseline printed no JSON")
        self.done(here, problems)
        return {
            "proc": proc_doc(m),
            "elapsed_s": own.get("elapsed_s"),
            "statuses": own.get("statuses"),
            "stats": brief(stats),
            "sandbox_cpu_s": round(sb.cpu_s, 3),
            "problems": problems,
        }

    def curl(self, label: str, n: int) -> dict[str, Any] | None:
        """``xargs -P 16 curl`` over the same ids; tokens minted beforehand, one per id."""
        curl, xargs = shutil.which("curl"), shutil.which("xargs")
        if not curl or not xargs:
            return None
        here, ids = self.rundir(label), self.ids(n)
        with SandboxProcess(here, ids) as sb:
            base = f"{sb.url}/agentassist/api/v1/public/{APP_ID}/campaign"
            lines = (
                f'-H "auth: {mint(CLIENT_ID, SECRET)}" {base}/{cid}?campaignType=voice\n'
                for cid in ids.read_text(encoding="utf-8").split()
            )
            (here / "curl-args.txt").write_text("".join(lines), encoding="utf-8")
            cmd = [xargs, "-a", str(here / "curl-args.txt"), "-P", "16", "-L", "1", curl, "-s"]
            cmd += ["-o", "/dev/null", "-w", "%{http_code}\\n", "-X", "DELETE"]
            cmd += ["-H", f"iid: {APP_ID}", "-H", f"accountId: {ACCOUNT_ID}"]
            m = measure(cmd, env=self.env, cwd=here, timeout=RUN_TIMEOUT, tag="curl")
            stats = sb.stats()
        problems = [p for p in [m.problem(), *sandbox_problems(stats, n), *sb.problems] if p]
        self.done(here, problems)
        return {"proc": proc_doc(m), "stats": brief(stats), "problems": problems}

    def command(self, label: str, cmd: list[str], timeout: float = 120) -> Measured:
        here = self.rundir(label)
        m = measure(cmd, env=self.env, cwd=here, timeout=timeout, tag=label)
        self.done(here, [p for p in [m.problem()] if p])
        return m
