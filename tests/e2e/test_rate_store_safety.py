"""The account's budget store seen from outside: a lock held elsewhere never stops Ctrl-C,
and a state directory, budget file or store URL that cannot be trusted is refused with
one clear line (exit 3 for the store, 2 for the job), never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bulkops.model import Target
from bulkops.ratelimit.budget import account_key
from bulkops.sandbox import SandboxThread
from tests.e2e.harness import (
    REPO,
    bulkops,
    bulkops_process,
    read_audit,
    start_bulkops,
    wait_until,
    write_job,
)

# Holds an exclusive flock on a file until its stdin closes.
LOCKER = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.read()
    """
)


def budget_file(tmp_path: Path, sandbox: SandboxThread) -> Path:
    """Where a run of ``write_job``'s job keeps its account's budget (harness.env)."""
    key = account_key(Target(sandbox.url, "st-sandbox-app", "acc-sandbox"))
    return tmp_path / ".xdg-state" / "bulkops" / f"budget-{key}.json"


def limited_job(tmp_path: Path, sandbox: SandboxThread, count: int) -> tuple[Path, Path]:
    """A job for ``count`` new campaigns at 50/s, and its budget file's path (its
    directory made, the file not)."""
    ids = sandbox.sandbox.add_campaigns(count=count)
    job = write_job(tmp_path, sandbox, ids, run={"rate": "50/s"})
    path = budget_file(tmp_path, sandbox)
    path.parent.mkdir(parents=True, mode=0o700)
    return job, path


def test_sigint_ends_the_run_at_once_while_another_process_holds_the_budget(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    job, path = limited_job(tmp_path, sandbox, 5)
    with subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)], text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    ) as locker:  # fmt: skip
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        proc = start_bulkops("run", job, "--yes", cwd=tmp_path)
        log = tmp_path / "audit.jsonl"
        wait_until("run_started", lambda: bool(read_audit(log)), proc)  # the run works
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        finally:
            proc.kill()
        # at once: it ended while the lock it waited for is still held (until stdin closes)
        assert locker.poll() is None
        assert locker.stdin is not None
        locker.stdin.close()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]


@pytest.mark.parametrize(
    ("content", "mode"),
    [(b'{"bulkops_budget": 2, "book": 1e999}', 0o600), (b"[" * 100_000, 0o600),
     (b"\x00\xff garbage", 0o600), (b"", 0o620), (b"", 0o606)],
)  # fmt: skip
def test_a_budget_file_that_cannot_be_trusted_stops_the_run_with_exit_3_naming_it(
    tmp_path: Path, sandbox: SandboxThread, content: bytes, mode: int
) -> None:
    job, path = limited_job(tmp_path, sandbox, 3)
    path.write_bytes(content)
    path.chmod(mode)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 3, result.stderr
    assert str(path) in result.stderr and "Traceback" not in result.stderr
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file to another user")
def test_a_budget_file_another_user_owns_is_refused(tmp_path: Path, sandbox: SandboxThread) -> None:
    job, path = limited_job(tmp_path, sandbox, 3)
    path.write_bytes(b"")
    os.chown(path, 1, 1)
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 3 and f"{path} is not safe" in result.stderr, result.stderr


def test_the_state_directory_is_made_private_and_never_followed_through_a_link(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.sandbox.add_campaigns(count=2)
    job = write_job(tmp_path, sandbox, ids, run={"rate": "50/s"})
    assert bulkops("run", job, "--yes", cwd=tmp_path).code == 0
    state = budget_file(tmp_path, sandbox).parent
    assert state.stat().st_mode & 0o777 == 0o700
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for budget in state.iterdir():
        budget.unlink()
    state.rmdir()
    state.symlink_to(elsewhere)
    ids = sandbox.sandbox.add_campaigns(count=2)
    job = write_job(tmp_path, sandbox, ids, run={"rate": "50/s"})
    result = bulkops("run", job, "--yes", "--fresh", cwd=tmp_path)
    assert result.code == 3 and str(state) in result.stderr, result.stderr
    assert "a link is never followed" in result.stderr and "Traceback" not in result.stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0?socket_timeout=abc", "redis://127.0.0.1/0?bogus=1",
     "redis://127.0.0.1:6379/0?ssl_cert_reqs=banana"],
)  # fmt: skip
def test_a_rate_store_url_with_options_is_refused_at_validation(
    tmp_path: Path, sandbox: SandboxThread, url: str
) -> None:
    ids = sandbox.sandbox.add_campaigns(count=2)
    job = write_job(tmp_path, sandbox, ids, run={"rate": "50/s"})
    result = bulkops("run", job, "--yes", cwd=tmp_path, BULKOPS_RATE_STORE=url)
    assert result.code == 2, result.stderr
    assert "options after the ? are not accepted" in result.stderr
    assert "Traceback" not in result.stderr and sandbox.stats_snapshot()["total_requests"] == 0


@pytest.mark.parametrize(
    "url",
    ["redis://admin@127.0.0.1:6379/0", "redis://127.0.0.1:6379/0?password=s3cr3t-pw",
     "redis://:s3cr3t-pw@127.0.0.1:6379/0"],
)  # fmt: skip
def test_credentials_anywhere_in_a_job_files_redis_url_are_refused_unquoted(
    tmp_path: Path, sandbox: SandboxThread, url: str
) -> None:
    job = write_job(tmp_path, sandbox, ["cd-1"], run={"rate": "50/s", "rate_store": url})
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 2 and "must not be written in the job file" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout and "admin" not in result.stderr


def test_without_the_redis_extra_a_redis_store_is_an_error_naming_it(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    shim = tmp_path / "no-redis"
    (shim / "redis").mkdir(parents=True)
    (shim / "redis" / "__init__.py").write_text("raise ImportError('no redis here')\n")
    job = write_job(tmp_path, sandbox, ["cd-1"], run={"rate_store": "redis://127.0.0.1/0"})
    pythonpath = f"{shim}{os.pathsep}{REPO}"
    result = bulkops_process("run", job, "--yes", cwd=tmp_path, PYTHONPATH=pythonpath)
    assert result.code == 2, result.stderr
    assert "pip install 'bulkops[redis]'" in result.stderr and "Traceback" not in result.stderr
