"""The CLI, driven in-process with a few hundred hostile arguments and files.

Empty, huge, links, FIFOs, directories, devices, deep JSON and YAML, bad UTF-8,
control characters: every case must end with a non-zero exit code and words on
stderr, never a traceback, never a hang (each case has an alarm), never exit 0.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from bulkops.cli import main
from bulkops.sandbox import SandboxThread
from tests.e2e.harness import SECRET, write_job

CASE_SECONDS = 10


class Hung(Exception):
    pass


def hostile_files(tmp: Path) -> dict[str, str]:
    """Paths that are no usable file of any kind bulkops reads, by what they are."""
    d = tmp / "hostile"
    d.mkdir()
    files: dict[str, bytes] = {
        "huge": b"a" * (2 << 20),
        "huge-line": b"x" * (9 << 20) + b"\n",
        "bad-utf8": b"\xff\xfe\xfa not utf-8 \x80\n",
        "deep-json": b"[" * 100_000 + b"]" * 100_000,
        "deep-json-object": b'{"event":' * 5_000 + b"1" + b"}" * 5_000 + b"\n",
        "deep-yaml": b"a: " + b"[" * 100_000 + b"\n",
        "nul": b"version: 1\x00\n",
        "not-json-lines": b"garbage\n\x00\x01\x02\n",
        "json-array": b"[1, 2, 3]\n",
    }
    paths = {name: d / name for name in files}
    for name, data in files.items():
        paths[name].write_bytes(data)
        paths[name].chmod(0o600)
    os.mkfifo(d / "fifo")
    (d / "dir").mkdir()
    os.symlink("/dev/zero", d / "link-to-zero")
    os.symlink(d / "nowhere", d / "dangling")
    os.symlink(d / "loop-b", d / "loop-a")
    os.symlink(d / "loop-a", d / "loop-b")
    named = {k: str(v) for k, v in paths.items()}
    return {
        **named, "empty": "", "missing": str(d / "missing"), "fifo": str(d / "fifo"),
        "dir": str(d / "dir"), "dev-zero": "/dev/zero", "dev-null": "/dev/null",
        "link-to-zero": str(d / "link-to-zero"), "dangling": str(d / "dangling"),
        "loop": str(d / "loop-a"), "long-name": str(d / ("n" * 5000)),
        "control": str(d / "bad\nname\x1b[31m"), "nul-in-path": str(d / "a\x00b"),
        "bad-utf8-name": str(d) + "/" + os.fsdecode(b"\xff\xfe"),
    }  # fmt: skip


HOSTILE_VALUES = [
    "", " ", "-", "--", "-1", "0", "99999999999999999999", "1e999", "nan", "abc",
    "60/0s", "0/min", "\x1b[31mred", "x" * 10_000, os.fsdecode(b"\xff"), "/", "\u202e",
]  # fmt: skip


# Odd names that are still usable for a file bulkops creates: a run may succeed with them
ODD_NEW_NAMES = {"control", "bad-utf8-name"}
REGULAR = {"huge", "huge-line", "bad-utf8", "deep-json", "deep-json-object", "deep-yaml", "nul",
           "not-json-lines", "json-array"}  # fmt: skip

Case = tuple[str, list[str], bool]  # name, argv, whether exit 0 is a right answer too


def cases(files: dict[str, str], job: str, log: str) -> Iterator[Case]:
    for name, path in files.items():
        yield f"validate {name}", ["validate", path], False
        yield f"list {name}", ["list", path], False
        yield f"run {name}", ["run", path, "--dry-run"], False
        # a regular file of bad lines is reported as such: each warned, and "no runs"
        yield f"report {name}", ["report", path], name in REGULAR
        yield f"campaigns-file {name}", ["run", job, "--dry-run", "--campaigns-file", path], False
        yield f"plan {name}", ["run", job, "--yes", "--plan", path], False
        if not path.startswith("/dev/") and name != "link-to-zero":
            # an audit log with bad lines is appended to, with a warning per bad line
            ok = name in REGULAR or name == "missing" or name in ODD_NEW_NAMES
            yield f"audit-log {name}", ["run", job, "--dry-run", "--audit-log", path], ok
        if name not in REGULAR and name != "missing":
            for option in ("--plan-out", "--summary-json", "--metrics-file"):
                argv = ["run", job, "--dry-run", option, path]
                yield f"{option} {name}", argv, name in ODD_NEW_NAMES
    for i, value in enumerate(HOSTILE_VALUES):
        yield f"rate {i}", ["run", job, "--dry-run", "--rate", value], False
        yield f"concurrency {i}", ["run", job, "--dry-run", "--concurrency", value], False
        argv = ["run", job, "--yes", "--plan", log, "--plan-max-age", value]
        yield f"plan-max-age {i}", argv, False
        yield f"run output {i}", ["run", job, "--dry-run", "--output", value], False
        yield f"list output {i}", ["list", job, "--output", value], False
        yield f"log-format {i}", ["validate", job, "--log-format", value], False
        yield f"report run {i}", ["report", log, "--run", value], False
        yield f"report format {i}", ["report", log, "--format", value], False
        if value != "0":  # any free port: it would serve
            yield f"sandbox port {i}", ["sandbox", "--port", value], False
        yield f"sandbox rate {i}", ["sandbox", "--port", "0", "--rate", value], False
        yield f"sandbox error-rate {i}", ["sandbox", "--port", "0", "--error-rate", value], False
        yield f"command {i}", [value, job], False


def in_jobs(files: dict[str, str], tmp: Path, sandbox: SandboxThread) -> Iterator[Case]:
    """Job files naming a hostile file as campaigns_file or secret file."""
    job = write_job(tmp, sandbox, ["cd-1"])
    text = job.read_text()
    for name, path in files.items():
        if "\x00" in path or "\n" in path:
            continue  # not writable into YAML as is; the CLI cases above cover them
        quoted = '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for field, line in (
            ("campaigns_file", f"campaigns_file: {quoted}"),
            ("secret", "auth:\n  client_id: cs-1\n  client_secret_file: " + quoted),
        ):
            if field == "campaigns_file":
                body = text.replace("campaigns_file: ids.txt", line)
            else:
                body = text.replace(text[text.index("auth:") : text.index("run:")], line + "\n")
            jobx = tmp / f"job-{field}-{len(os.listdir(tmp))}.yaml"
            jobx.write_bytes(body.encode("utf-8", "surrogateescape"))
            # any short UTF-8 text is a usable secret
            ok = field == "secret" and name in REGULAR - {"huge", "huge-line", "bad-utf8"}
            yield f"job {field} {name}", ["validate", str(jobx)], ok


@pytest.fixture
def quiet_signals() -> Iterator[None]:
    """The CLI installs handlers for SIGHUP/SIGINT/SIGTERM: put pytest's back after."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def run_case(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int | None, str, str]:
    """main(argv) with a terminal's streams: stdout strict UTF-8, stderr backslashreplace
    (as Python sets them up). Its exit code (None when it raised), stderr, and the problem."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    problem = ""
    signal.alarm(CASE_SECONDS)
    try:
        code: int | None = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:  # noqa: BLE001 - a traceback a user would see
        code, problem = None, f"raised {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.alarm(0)
        monkeypatch.undo()
    err.flush()
    said = err.buffer.getvalue().decode()  # type: ignore[attr-defined]
    return code, said, problem


def test_hostile_arguments_and_files_never_traceback_hang_or_exit_0(
    tmp_path: Path, sandbox: SandboxThread, quiet_signals: None,
) -> None:  # fmt: skip
    with pytest.MonkeyPatch.context() as env:
        env.chdir(tmp_path)
        env.setenv("KOREAI_CLIENT_SECRET", SECRET)
        env.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        files = hostile_files(tmp_path)
        job = write_job(tmp_path, sandbox, sandbox.add_campaigns(count=2))
        log = str(tmp_path / "audit.jsonl")
        assert run_case(["run", str(job), "--dry-run"], pytest.MonkeyPatch())[0] == 0  # a log
        all_cases = [*cases(files, str(job), log), *in_jobs(files, tmp_path, sandbox)]

        def alarm(signum: int, frame: FrameType | None) -> None:
            raise Hung()

        previous = signal.signal(signal.SIGALRM, alarm)
        wrong: list[str] = []
        try:
            for name, argv, may_succeed in all_cases:
                code, err, problem = run_case(argv, pytest.MonkeyPatch())
                if problem or "Traceback" in err or (code == 0 and not may_succeed):
                    wrong.append(f"{name}: exit {code} {problem}: {err[-300:]!r}")
                elif code != 0 and not err.strip():
                    wrong.append(f"{name}: exit {code} without a word on stderr")
        finally:
            signal.signal(signal.SIGALRM, previous)
    assert not wrong, f"{len(wrong)} of {len(all_cases)} cases:\n" + "\n".join(wrong)
    assert len(all_cases) >= 300, len(all_cases)
    assert sandbox.stats_snapshot()["by_method"].get("DELETE", 0) == 0
