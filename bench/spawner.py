"""A small process that starts the measured commands, so their peak RSS is their own.

Linux starts a child's ``ru_maxrss`` at the high-water mark of the memory it
was forked from (and ``subprocess`` forks from the caller): children of
run.py, which grows as it reads the sandbox's stats, would all report at
least run.py's size. Children forked from this process (stdlib only, started
with ``-S``: a few MB) report what they used themselves.

Protocol: one JSON request a line on stdin ({cmd, cwd, env, stdout, stderr,
timeout}), one JSON reply a line on stdout ({returncode, wall_s, user_s,
sys_s, maxrss_kb, timed_out}). Exits at end of input.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from typing import Any


def _child(req: dict[str, Any], out: int, err: int) -> None:
    try:
        os.chdir(req["cwd"])
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.execvpe(req["cmd"][0], req["cmd"], req["env"])
    except BaseException as exc:  # report anything; never return to the loop
        os.write(2, f"spawner: cannot run {req['cmd'][0]}: {exc}\n".encode())
    finally:
        os._exit(127)


def _wait(pid: int, timeout: float) -> bool:
    """Block until ``pid`` exits or ``timeout`` passes; True if it overran."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd: poll, 1 ms granularity
        deadline = time.monotonic() + timeout
        while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            if time.monotonic() > deadline:
                return True
            time.sleep(0.001)
        return False
    try:
        return not select.select([fd], [], [], timeout)[0]
    finally:
        os.close(fd)


def run(req: dict[str, Any]) -> dict[str, Any]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    out, err = os.open(req["stdout"], flags, 0o644), os.open(req["stderr"], flags, 0o644)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        _child(req, out, err)
    os.close(out)
    os.close(err)
    timed_out = _wait(pid, req["timeout"])
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "wall_s": time.perf_counter() - started,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "maxrss_kb": usage.ru_maxrss,
        "timed_out": timed_out,
    }


def main() -> None:
    for line in sys.stdin:
        sys.stdout.write(json.dumps(run(json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
