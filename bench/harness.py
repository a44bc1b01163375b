"""Processes for the benchmark: the sandbox in its own process, measured children, job files.

Every measured child is started from an argv list (no shell) by the small
``spawner.py`` process, waited for with ``os.wait4`` so its own CPU time and
peak RSS come back with it, and killed (by its pid) if it overruns its
timeout. Everything talks to 127.0.0.1.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET = "sandbox-secret-not-for-production"  # the sandbox's throwaway default
CLIENT_ID = "cs-sandbox-demo"
APP_ID = "st-sandbox-app"
ACCOUNT_ID = "acc-sandbox"
READY_TIMEOUT = 120.0  # seconds for the sandbox to seed its ids and listen
STOP_TIMEOUT = 15.0
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

EMPTY_STATS: dict[str, Any] = {"by_status": {}, "deleted_ids": [], "arrivals": [],
                               "total_requests": 0, "rate_limited": 0}  # fmt: skip

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"


def bulkops_cmd() -> list[str]:
    """The console script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).parent / "bulkops"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bulkops"]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env["KOREAI_CLIENT_SECRET"] = SECRET
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


@dataclass
class Measured:
    """One finished child process: what it cost and what it said."""

    cmd: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    def problem(self) -> str | None:
        """None if the child exited 0, else a short account of how it failed."""
        if self.timed_out:
            return f"{Path(self.cmd[0]).name} killed after timeout"
        if self.returncode == 0:
            return None
        tail = self.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        return f"{Path(self.cmd[0]).name} exit {self.returncode}: {tail[0][:160]}"


class _Spawner:
    """The ``spawner.py`` process every measured command is forked from (see there why)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-S", "-E", str(BENCH / "spawner.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            atexit.register(self.close)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        reply = self._proc.stdout.readline()
        if not reply:
            raise RuntimeError("bench/spawner.py died")
        result: dict[str, Any] = json.loads(reply)
        return result

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()  # end of input: the spawner exits
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


_SPAWNER = _Spawner()


def measure(
    cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: float, tag: str = "child"
) -> Measured:
    """Run ``cmd`` to completion (killed after ``timeout`` s): wall time from fork to
    reap, CPU and peak RSS from ``wait4`` of that process alone."""
    out_path, err_path = cwd / f"{tag}.stdout", cwd / f"{tag}.stderr"
    r = _SPAWNER.run(
        {
            "cmd": cmd,
            "cwd": str(cwd),
            "env": env,
            "timeout": timeout,
            "stdout": str(out_path),
            "stderr": str(err_path),
        }  # fmt: skip
    )
    return Measured(
        cmd=cmd,
        returncode=r["returncode"],
        wall_s=r["wall_s"],
        user_s=r["user_s"],
        sys_s=r["sys_s"],
        maxrss_mb=r["maxrss_kb"] / 1024,  # KiB on Linux
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
        timed_out=r["timed_out"],
    )


@dataclass
class SandboxProcess:
    """``bulkops sandbox`` on an ephemeral loopback port, seeded with exactly ``ids_file``
    (plus ``campaigns`` made-up ones); ``extra`` are more sandbox flags (faults)."""

    workdir: Path
    ids_file: Path | None
    rates: tuple[str, ...] = ()
    latency: float = 0.0
    campaigns: int = 0
    extra: tuple[str, ...] = ()
    url: str = ""
    cpu_s: float = 0.0  # the sandbox's own CPU, known once stopped
    problems: list[str] = field(default_factory=list)
    _proc: subprocess.Popen[bytes] | None = None
    _err: Any = None  # the sandbox's stdout/stderr file

    def __enter__(self) -> SandboxProcess:
        ready = self.workdir / "sandbox-ready.json"
        ready.unlink(missing_ok=True)
        cmd = [*bulkops_cmd(), "sandbox", "--host", "127.0.0.1", "--port", "0"]
        cmd += ["--ready-file", str(ready), "--campaigns", str(self.campaigns)]
        if self.ids_file is not None:
            cmd += ["--seed-ids", str(self.ids_file)]
        cmd += ["--quiet", "--latency", str(self.latency), *self.extra]
        for spec in self.rates:
            cmd += ["--rate", spec]
        self._err = open(self.workdir / "sandbox.stderr", "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            cmd, env=child_env(), stdin=subprocess.DEVNULL, stdout=self._err, stderr=self._err
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                err = (self.workdir / "sandbox.stderr").read_text(errors="replace")[-500:]
                raise RuntimeError(f"sandbox did not start: {err.strip() or 'no output'}")
            time.sleep(0.05)
        self.url = json.loads(ready.read_text(encoding="utf-8"))["url"]
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats``; if the sandbox cannot answer, empty stats and a problem."""
        try:
            with urllib.request.urlopen(f"{self.url}/_sandbox/stats", timeout=120) as resp:
                doc: dict[str, Any] = json.load(resp)
        except (OSError, ValueError) as exc:
            exited = self._proc.poll() if self._proc is not None else None
            tail = (self.workdir / "sandbox.stderr").read_text(errors="replace").strip()[-300:]
            self.problems.append(
                f"sandbox stats unavailable ({exc}; sandbox "
                f"{'running' if exited is None else f'exited {exited}'}): {tail or 'no output'}"
            )
            return dict(EMPTY_STATS)
        return doc

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        timer = threading.Timer(STOP_TIMEOUT, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.cpu_s = usage.ru_utime + usage.ru_stime
        except ChildProcessError:  # already reaped by poll()
            pass
        finally:
            timer.cancel()
            self._err.close()
        if proc.returncode not in (0, None):
            self.problems.append(f"sandbox exit {proc.returncode}")


def sandbox_problems(
    stats: dict[str, Any], expected_deletes: int, *, limited: bool = False
) -> list[str]:
    """What the sandbox saw that a clean run would not have (429s are counted
    elsewhere when it enforced a rate limit: ``limited``)."""
    problems = []
    fine = ("200", "429") if limited else ("200",)
    odd = {s: n for s, n in stats["by_status"].items() if s not in fine}
    if odd:
        problems.append("sandbox answered " + ", ".join(f"{n}×{s}" for s, n in odd.items()))
    if stats.get("dropped"):
        problems.append(f"sandbox dropped {stats['dropped']}")
    deleted = len(stats["deleted_ids"])
    if deleted != expected_deletes:
        problems.append(f"sandbox deleted {deleted} of {expected_deletes}")
    return problems


def write_ids(path: Path, count: int, prefix: str = "cd-bench") -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{prefix}-{i:07d}\n" for i in range(count))
    return path


def write_job(
    path: Path,
    *,
    host: str,
    ids_file: Path,
    concurrency: int,
    rates: tuple[str, ...] = (),
    rate_margin: float | None = None,
    app_id: str = APP_ID,
    name: str = "bench",
) -> Path:
    """A job file for the sandbox; ``rates=()`` means no rate limit (``rate: []``)."""
    lines = [
        "version: 1",
        f"name: {name}",
        "target:",
        f"  host: {host}",
        f"  app_id: {app_id}",
        f"  account_id: {ACCOUNT_ID}",
        "auth:",
        f"  client_id: {CLIENT_ID}",
        "  client_secret_env: KOREAI_CLIENT_SECRET",
        f"campaigns_file: {ids_file.resolve()}",
        "run:",
        f"  concurrency: {concurrency}",
        f"  rate: [{', '.join(rates)}]",
        "  max_deletes: 1000000",
        "  protect_status: []",  # the seeded ids have random statuses: measure deleting them all
        "  max_attempts: 5",
        "  backoff_initial: 0.05",
        "  backoff_max: 1",
        "  timeout: 10",
    ]
    if rate_margin is not None:
        lines.append(f"  rate_margin: {rate_margin}")
    lines.append(f"audit_log: {path.with_suffix('.jsonl').resolve()}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def last_run_finished(audit_log: Path) -> dict[str, Any] | None:
    """The last ``run_finished`` record, read from the log's tail (logs get large)."""
    if not audit_log.exists():
        return None
    with open(audit_log, "rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - 65536))
        tail = f.read().decode("utf-8", errors="replace").splitlines()
    for line in reversed(tail):
        if '"run_finished"' in line:
            try:
                record: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            return record
    return None


def machine_info() -> dict[str, Any]:
    model = ""
    mem_mb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "mem_total_mb": mem_mb,
        "loadavg_at_start": os.getloadavg(),
    }


def git_info() -> dict[str, Any]:
    """Commit and dirtiness, read-only (no index refresh, no locks)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changed)}
