"""Whatever bulkops is handed, it ends with its exit code and one clear line.

Empty values, FIFOs, devices, a full disk, a closed stdin, a secret that is not
UTF-8, an endless pipe: never a traceback, never a hang, never exit 0 on a loss.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import bulkops, env, wait_until, write_job


def run_cli(*args: str | Path, cwd: Path, timeout: float = 20, **kw: object) -> tuple[int, str]:
    """The CLI with stdout and stdin as a test sets them (``kw``); its exit code and stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "bulkops", *map(str, args)], cwd=cwd, env=env(cwd),
        stderr=subprocess.PIPE, text=True, timeout=timeout, **kw,  # type: ignore[call-overload]
    )  # fmt: skip
    return proc.returncode, proc.stderr


EMPTY_OPTIONS = ["--plan", "--plan-out", "--summary-json", "--metrics-file", "--audit-log",
                 "--campaigns-file", "--plan-max-age"]  # fmt: skip


@pytest.mark.parametrize("option", EMPTY_OPTIONS)
def test_an_empty_value_is_an_error_and_sends_nothing(
    tmp_path: Path, sandbox: SandboxThread, option: str
) -> None:
    """``--plan "$PLAN"`` with PLAN unset ran the job's live selection for real."""
    ids = sandbox.add_campaigns(count=3)
    job = write_job(tmp_path, sandbox, ids)
    result = bulkops("run", job, "--yes", option, "", cwd=tmp_path)
    assert result.code == 2 and f"argument {option}: must not be empty" in result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 0
    assert not (tmp_path / "audit.jsonl").exists()


@pytest.mark.parametrize("where", ["job file", "campaigns_file"])
@pytest.mark.parametrize("command", ["run", "list", "validate"])
def test_a_fifo_is_refused_not_waited_on(
    tmp_path: Path, sandbox: SandboxThread, where: str, command: str
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    job = write_job(tmp_path, sandbox, ["cd-1"])
    if where == "campaigns_file":
        job.write_text(job.read_text().replace("campaigns_file: ids.txt", "campaigns_file: fifo"))
    extra = ["--yes"] if command == "run" else []
    result = bulkops(
        command, fifo if where == "job file" else job, *extra, cwd=tmp_path, timeout=20
    )
    assert result.code == 2 and "not a regular file" in result.stderr, result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 0


@pytest.mark.parametrize("command", ["run", "restore"])
def test_an_endless_stdin_stops_at_the_id_cap(
    tmp_path: Path, sandbox: SandboxThread, command: str
) -> None:
    """``yes cd-1 | bulkops run JOB --campaigns-file -`` grew without end; restore reads
    its ids by the same rule."""
    job = write_job(tmp_path, sandbox, ["cd-1"], run={"max_deletes": 5})
    with subprocess.Popen(
        [sys.executable, "-m", "bulkops", command, job, "--dry-run", "--campaigns-file", "-"],
        cwd=tmp_path, env=env(tmp_path), stdin=subprocess.PIPE, stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    ) as proc:  # fmt: skip
        assert proc.stdin is not None and proc.stderr is not None
        stdin = proc.stdin

        def endless() -> None:  # as `yes cd-1`, for at most 10 s
            deadline = time.monotonic() + 10
            with contextlib.suppress(OSError):  # bulkops stopped reading: the pipe is broken
                while time.monotonic() < deadline:
                    stdin.write(b"cd-1\n" * 1000)
                stdin.close()

        writer = threading.Thread(target=endless, daemon=True)
        writer.start()
        assert proc.wait(timeout=30) == 2
        writer.join(15)
        err = proc.stderr.read().decode()
        with contextlib.suppress(OSError, ValueError):
            stdin.close()
    assert "--campaigns-file -:6: more than 5 ids (run.max_deletes)" in err
    assert sandbox.stats_snapshot()["total_requests"] == 0


def test_stdin_closed_a_secret_not_utf8_or_a_directory_as_log_exit_2(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    job = write_job(tmp_path, sandbox, ["cd-1"])
    code, err = run_cli("run", job, "--dry-run", "--campaigns-file", "-", cwd=tmp_path,
                        preexec_fn=lambda: os.close(0))  # fmt: skip
    assert code == 2 and "stdin is closed" in err and "Traceback" not in err
    code, err = run_cli("run", job, "--dry-run", "--audit-log", "/", cwd=tmp_path)
    assert code == 2 and "names a directory, not a file" in err and "Traceback" not in err
    bad = env(tmp_path, KOREAI_CLIENT_SECRET=os.fsdecode(b"\xff\xfesecret"))
    proc = subprocess.run(
        [sys.executable, "-m", "bulkops", "run", str(job), "--dry-run"],
        cwd=tmp_path, env=bad, capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "KOREAI_CLIENT_SECRET is not UTF-8 text" in proc.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ("list", "JOB"),
        ("validate", "JOB"),
        ("report", "LOG"),
        ("run", "JOB", "--dry-run", "--output", "ids"),
    ],  # fmt: skip
)
def test_output_lost_to_a_full_device_is_no_exit_0(
    tmp_path: Path, sandbox: SandboxThread, args: tuple[str, ...]
) -> None:
    job = write_job(tmp_path, sandbox, sandbox.add_campaigns(count=3))
    assert bulkops("run", job, "--dry-run", cwd=tmp_path).code == 0  # a log to report
    argv = [{"JOB": str(job), "LOG": str(tmp_path / "audit.jsonl")}.get(a, a) for a in args]
    with open("/dev/full", "w") as full:
        code, err = run_cli(*argv, cwd=tmp_path, stdout=full)
    assert code == 3 and "the output could not be written: No space left on device" in err
    assert "Traceback" not in err


def test_report_refuses_a_fifo_and_a_device_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        code, err = run_cli("report", path, cwd=tmp_path, stdout=subprocess.DEVNULL)
        assert code == 2 and f"cannot read {path}: not a regular file" in err


def test_sandbox_refuses_a_port_past_65535(tmp_path: Path) -> None:
    code, err = run_cli("sandbox", "--port", "99999", cwd=tmp_path)
    assert code == 2 and "99999 is no TCP port" in err and "Traceback" not in err


def test_sandbox_ready_file_never_replaces_nor_removes_what_it_did_not_create(
    tmp_path: Path,
) -> None:
    theirs = tmp_path / "theirs"
    theirs.write_text("someone else's\n")
    code, err = run_cli("sandbox", "--port", "0", "--quiet", "--ready-file", theirs, cwd=tmp_path)
    assert code == 2 and "exists" in err and theirs.read_text() == "someone else's\n"
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulkops", "sandbox", "--port", "0", "--quiet",
         "--ready-file", str(ready)], cwd=tmp_path, env=env(tmp_path),
    )  # fmt: skip
    try:
        wait_until("the ready file", ready.exists, proc, timeout=20)
        assert '"port"' in ready.read_text()
        ready.unlink()
        ready.write_text("replaced by someone else\n")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert ready.read_text() == "replaced by someone else\n"
