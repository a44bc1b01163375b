"""Writing the JSONL audit log: the append-only writer and the lock a run holds on it.

Each record is one ``os.write`` of one whole line on an O_APPEND descriptor, so
a crash can cut at most the line being written and never interleaves two. A
torn last line (no newline) is found by ``history`` on the next open, and the
new run starts on a fresh line. A write that fails part-way (disk full, file
size limit) is cut back to the last whole line before the error is raised.

No file of ours is reached through a symbolic link (``O_NOFOLLOW``), and a log
or lock file with a second name (a hard link) is refused: the lock is taken on
the log file itself as well as on ``<log>.lock``, so whatever name a second run
uses for the same log, it meets the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Any

from bulkops.errors import AuditWriteError, JobError, LockedError
from bulkops.jsoncodec import dumps_line
from bulkops.records.files import open_own_file

FSYNC_EVERY = 2.0  # seconds between fsyncs while a run writes


class AuditLock:
    """An exclusive advisory lock on the log itself and on ``<log>.lock`` (holding our pid);
    the kernel drops both if we die."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.path = log_path.with_name(log_path.name + ".lock")
        self._fds: list[int] = []
        self._created = False  # the log did not exist before us: a refused run leaves none

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobError(f"audit log: cannot create {self.path.parent}: {exc.strerror}") from exc
        # the lock file first: it is never removed, so whoever holds it sees the log as the
        # last holder left it (a refused run removes the empty log it created, still holding)
        lock_fd = open_own_file(self.path, os.O_RDWR | os.O_CREAT, "audit lock file", one_name=True)
        self._take(lock_fd)
        self._created = not os.path.lexists(self.log_path)
        try:
            log_fd = open_own_file(
                self.log_path, os.O_RDWR | os.O_CREAT, "audit log", 0o640, one_name=True
            )
        except JobError:
            self.release()
            raise
        self._take(log_fd)  # the log's own identity: no other name for it gets past
        os.ftruncate(lock_fd, 0)
        os.write(lock_fd, f"{os.getpid()}\n".encode())

    def _take(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self.release()
            raise LockedError(
                f"{self.log_path} is in use by another bulkops run (pid {self._holder()}); "
                "wait for it to finish, or use another audit log"
            ) from None
        self._fds.append(fd)

    def _holder(self) -> str:
        """The pid the holding run wrote in the lock file, if it can be read safely."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return "unknown"
        try:
            return os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
        except OSError:
            return "unknown"
        finally:
            os.close(fd)

    def release(self) -> None:
        if not self._fds:
            return
        lock_fd, log_fds = self._fds[0], self._fds[1:]
        if log_fds and self._created and os.fstat(log_fds[0]).st_size == 0:
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)  # still ours: both locks are held
        with contextlib.suppress(OSError):
            os.ftruncate(lock_fd, 0)  # forget our pid
        for fd in reversed(self._fds):  # the lock file last
            os.close(fd)  # closing drops the flock
        self._fds = []


class AuditWriter:
    """Appends records, one whole line per write; fsyncs every few seconds and on close.

    Opening fails with JobError (nothing has been sent yet); writing and closing fail
    with AuditWriteError, after which the log still ends on a whole line."""

    def __init__(self, path: Path, *, torn_tail: bool = False, what: str = "audit log") -> None:
        self.path = path
        self._what = what  # which log, for people: "audit log" or "restore log"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobError(f"{what}: cannot create {path.parent}: {exc.strerror}") from exc
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._fd = open_own_file(path, flags, what, 0o640, one_name=True)
        self._size = os.fstat(self._fd).st_size  # the end of the last whole line we know of
        if torn_tail:
            try:
                self._append(b"\n")  # the torn line stays, alone; ours start clean
            except AuditWriteError as exc:  # nothing has been sent yet
                os.close(self._fd)
                raise JobError(str(exc)) from exc
        self._last_sync = time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        self._append(dumps_line(record))
        now = time.monotonic()
        if now - self._last_sync >= FSYNC_EVERY:
            self._sync()
            self._last_sync = now

    def _append(self, line: bytes) -> None:
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # a short write: finish the same line, or fail
                written += os.write(self._fd, line[written:])
        except OSError as exc:
            with contextlib.suppress(OSError):  # no torn line left behind
                os.ftruncate(self._fd, self._size)
            raise self._failure(exc) from exc
        self._size += len(line)

    def _sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: OSError) -> AuditWriteError:
        return AuditWriteError(f"the {self._what} {self.path} could not be written: {exc.strerror}")

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                os.fsync(fd)
            except OSError as exc:
                raise self._failure(exc) from exc
            finally:
                os.close(fd)
