"""Writing the JSONL audit log: the append-only writer and the lock a run holds on it.

Each record is one ``os.write`` of one whole line on an O_APPEND descriptor, so
a crash can cut at most the line being written and never interleaves two. A
torn last line (no newline) is found by ``history`` on the next open, and the
new run starts on a fresh line.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Any

from bulkops.errors import JobError, LockedError
from bulkops.jsoncodec import dumps_line

FSYNC_EVERY = 2.0  # seconds between fsyncs while a run writes


class AuditLock:
    """An exclusive advisory lock on ``<log>.lock``; the kernel drops it if we die."""

    def __init__(self, log_path: Path) -> None:
        self.path = log_path.with_name(log_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JobError(f"audit log: cannot create {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"{self.path.with_suffix('')} is in use by another bulkops run (pid {holder}); "
                "wait for it to finish, or use another audit log"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class AuditWriter:
    """Appends records, one whole line per write; fsyncs every few seconds and on close."""

    def __init__(self, path: Path, *, torn_tail: bool = False) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        if torn_tail:
            os.write(self._fd, b"\n")  # the torn line stays, alone; ours start clean
        self._last_sync = time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        line = dumps_line(record)
        written = os.write(self._fd, line)
        while written < len(line):  # rare short write: finish the same line
            written += os.write(self._fd, line[written:])
        now = time.monotonic()
        if now - self._last_sync >= FSYNC_EVERY:
            os.fsync(self._fd)
            self._last_sync = now

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
