"""Running the real CLI against a real sandbox on loopback: in this process, as a
process would (``bulkops``), or as a subprocess (``start_bulkops``)."""

from __future__ import annotations

import faulthandler
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
import yaml

from bulkops.model import EXIT_BY_SIGNAL
from bulkops.sandbox import SandboxThread

SECRET = "sandbox-secret-not-for-production"
REPO = Path(__file__).resolve().parents[2]

# Short backoffs, quick timeouts and no rate limit unless a test sets one: fast tests.
# Nothing protected unless a test says so: the sandbox makes up Active campaigns too, and
# the tests of protect_status (test_guards.py) set it themselves.
FAST_RUN = {
    "concurrency": 8, "rate": [], "max_attempts": 4, "backoff_initial": 0.02,
    "backoff_max": 0.1, "timeout": 2, "max_retry_after": 2, "protect_status": [],
}  # fmt: skip
# FAST_RUN protects nothing (no status check to slow a test down): every run warns so
NOTHING_KEPT = "warning: run.protect_status is []"


# Runs a test against the sandbox in both dialects: its own, and the documented platform's
BOTH_DIALECTS = pytest.mark.parametrize("sandbox", ["bulkops", "kore"], indirect=True)
KORE_DIALECT = pytest.mark.parametrize("sandbox", ["kore"], indirect=True)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    audit_path: Path

    @property
    def audit(self) -> list[dict[str, Any]]:
        return read_audit(self.audit_path)

    def campaigns(self) -> list[dict[str, Any]]:
        return [r for r in self.audit if r["event"] == "campaign"]

    def outcomes(self) -> dict[str, str]:
        return {r["campaign_id"]: r["outcome"] for r in self.campaigns()}

    def finished(self) -> dict[str, Any]:
        return [r for r in self.audit if r["event"] == "run_finished"][-1]


def env(cwd: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a bulkops subprocess. Its account budget lives under ``cwd``
    (each test's own tmp dir), so tests running in parallel never share one by accident."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KOREAI_", "BULKOPS_"))}
    if cwd is not None:
        base["XDG_STATE_HOME"] = str(cwd / ".xdg-state")
    return {**base, "KOREAI_CLIENT_SECRET": SECRET, "PYTHONPATH": str(REPO), **extra}


def write_job(
    tmp: Path,
    sandbox: SandboxThread,
    ids: list[str] | None = None,
    *,
    run: dict[str, Any] | None = None,
    **fields: Any,
) -> Path:
    """A job for the sandbox; ``ids`` go to an ids file; ``fields`` replace top-level keys."""
    job: dict[str, Any] = {
        "version": 1,
        "name": "e2e",
        "target": {"host": sandbox.url, "app_id": "st-sandbox-app", "account_id": "acc-sandbox"},
        "auth": {"client_id": "cs-sandbox-demo", "client_secret_env": "KOREAI_CLIENT_SECRET"},
        "run": {**FAST_RUN, **(run or {})},
        "audit_log": str(tmp / "audit.jsonl"),
    }
    if ids is not None:
        (tmp / "ids.txt").write_text("\n".join(ids) + "\n")
        job["campaigns_file"] = "ids.txt"
    job.update(fields)
    path = tmp / "job.yaml"
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path


def read_audit(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def bulkops(*args: str | Path, cwd: Path, timeout: float = 60, **env_extra: str) -> Result:
    """``bulkops ARGS`` run to its end in ``cwd``, stdin empty: its exit code, output and
    audit log. It runs in this process (a new interpreter costs half a second of CPU a
    run, most of the suite's time) as the process would: its own environment, working
    directory, streams, signal handlers and warning filters, each given back afterwards.
    What needs a process of its own (a signal, a kill, a pipe) uses ``start_bulkops``."""
    code, out, err = _as_a_process([str(a) for a in args], cwd, env(cwd, **env_extra), timeout)
    return Result(code, out, err, cwd / "audit.jsonl")


def bulkops_process(*args: str | Path, cwd: Path, timeout: float = 60, **env_extra: str) -> Result:
    """``bulkops`` in a new interpreter: for what a process reads only as it starts (its
    ``PYTHONPATH``, or ``SSL_CERT_FILE``, which aiohttp reads as it is imported)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bulkops", *map(str, args)],
        cwd=cwd, env=env(cwd, **env_extra), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    return Result(proc.returncode, proc.stdout, proc.stderr, cwd / "audit.jsonl")


def _as_a_process(
    argv: list[str], cwd: Path, environ: dict[str, str], timeout: float
) -> tuple[int, str, str]:
    from bulkops.cli import main
    from bulkops.cli.signals import GUARD

    saved = dict(os.environ), os.getcwd(), (sys.stdin, sys.stdout, sys.stderr)
    handlers = {signum: signal.getsignal(signum) for signum in EXIT_BY_SIGNAL}
    with (
        open(os.devnull, encoding="utf-8") as stdin,
        tempfile.TemporaryFile("w+", encoding="utf-8") as out,
        tempfile.TemporaryFile("w+", encoding="utf-8") as err,
        warnings.catch_warnings(),
    ):
        _process_warning_filters()
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = stdin, out, err
        faulthandler.dump_traceback_later(timeout, exit=True, file=sys.__stderr__)
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's --help and usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # what would reach a person as a traceback
            traceback.print_exc()
            code = 1
        finally:
            faulthandler.cancel_dump_traceback_later()
            sys.stdin, sys.stdout, sys.stderr = saved[2]
            os.chdir(saved[1])
            os.environ.clear()
            os.environ.update(saved[0])
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            GUARD.__init__()  # a new process would have a new one
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def _process_warning_filters() -> None:
    """The filters ``python -m bulkops`` starts with, in place of the suite's "error"."""
    warnings.resetwarnings()
    warnings.simplefilter("default")
    for quiet in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", quiet)


def start_bulkops(*args: str | Path, cwd: Path, **env_extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bulkops", *map(str, args)],
        cwd=cwd, env=env(cwd, **env_extra), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def count_lines(log: Path, event: str) -> int:
    """How many ``event`` lines a running bulkops has written to ``log`` so far, read from
    the raw bytes: the line being written may not be whole yet."""
    return log.read_bytes().count(f'"event":"{event}"'.encode()) if log.exists() else 0


def wait_until(
    what: str, happened: Callable[[], bool], proc: subprocess.Popen[Any], timeout: float = 30
) -> None:
    """Returns once ``happened()`` (an answer the sandbox counted, a line in a file) while
    ``proc`` still runs; fails, with its output, if it exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while not happened():
        assert proc.poll() is None, (f"exited before {what}", proc.communicate())
        assert time.monotonic() < deadline, f"no {what} within {timeout:g}s"
        time.sleep(0.01)  # a look every 10 ms leaves the 2 cores to the processes under test


def wait_for_line(stream: IO[str], text: str, timeout: float = 30) -> str:
    """Reads ``stream`` (a child's stderr, say) up to the first line holding ``text``;
    returns what it read. The rest is left for ``communicate()``."""
    read: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        lines = []
        for line in stream:
            lines.append(line)
            if text in line:
                break
        read.put("".join(lines))

    threading.Thread(target=reader, daemon=True).start()
    seen = read.get(timeout=timeout)
    assert text in seen, f"the stream ended without {text!r}: {seen}"
    return seen


def interrupt_after(
    proc: subprocess.Popen[str],
    sandbox: SandboxThread,
    deleted: int,
    sig: int = signal.SIGINT,
    timeout: float = 30,
) -> tuple[int, str, str]:
    """Sends ``sig`` once the sandbox has deleted at least ``deleted`` campaigns."""

    def enough_deleted() -> bool:
        return len(sandbox.stats_snapshot()["deleted_ids"]) >= deleted

    wait_until(f"{deleted} deletes", enough_deleted, proc, timeout)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def run_losing_a_directory(
    sandbox: SandboxThread, tmp: Path, gone: Path, *args: str | Path
) -> tuple[int, str]:
    """Runs six slow deletes with ``args``; once the first DELETE is on its way the directory
    ``gone`` becomes a file, so what the run writes there at its end cannot be written.
    Returns the exit code and stderr."""
    ids = sandbox.add_campaigns(count=6)
    sandbox.configure(latency=0.2)
    job = write_job(tmp, sandbox, ids, run={"concurrency": 1, "timeout": 10})
    gone.mkdir()
    proc = start_bulkops("run", job, "--yes", *args, cwd=tmp)
    wait_until("a sent line", lambda: count_lines(tmp / "audit.jsonl", "sent") > 0, proc)
    gone.rmdir()
    gone.write_text("now a file\n")
    _, err = proc.communicate(timeout=30)
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(ids)
    return proc.returncode, err


def plan_digest_for(plan: dict[str, Any], job: Path) -> str:
    """The digest the job's client secret gives ``plan``: what a dry run of ``job`` writes."""
    from bulkops.job import load_job
    from bulkops.records.plans import plan_digest

    return plan_digest(plan, load_job(job, environ={"KOREAI_CLIENT_SECRET": SECRET}))
