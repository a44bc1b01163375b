"""The JSONL audit log: records, the append-only writer, its lock, and resume.

Each record is one ``os.write`` of one whole line on an O_APPEND descriptor, so
a crash can cut at most the line being written and never interleaves two. A
torn last line (no newline) is detected on the next open, reported, and the
new run starts on a fresh line.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bulkops.errors import JobError, LockedError
from bulkops.jsoncodec import dumps_line

OUTCOMES = ("deleted", "not_found", "failed", "would_delete")  # of a campaign line
COUNT_KEYS = (*OUTCOMES, "skipped", "pending")  # of run_finished.counts
DONE_OUTCOMES = frozenset({"deleted", "not_found"})  # what resume skips
FSYNC_EVERY = 2.0  # seconds between fsyncs while a run writes
MAX_LINE_BYTES = 8 << 20  # a longer line is not a record of ours


def utc_now() -> str:
    """UTC ISO-8601 with milliseconds and Z, as every record's ``ts``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(value: object) -> datetime | None:
    """An aware datetime from ISO-8601 text (``Z`` or an offset; none means UTC),
    as ``ts`` fields, plans and the API's ``createdAt`` carry; None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@dataclass
class BadLine:
    lineno: int
    problem: str


def iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """Every line of an audit log, streamed: (line number, record or BadLine)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                yield lineno, BadLine(lineno, "the last line is cut off (no newline): a crash?")
                return
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield lineno, BadLine(lineno, "line too long to be a record")
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                yield lineno, BadLine(lineno, "not JSON")
                continue
            if not isinstance(record, dict) or "event" not in record:
                yield lineno, BadLine(lineno, "not an audit record")
                continue
            yield lineno, record


@dataclass
class History:
    """What earlier runs against the same target settled (for resume)."""

    done: set[str] = field(default_factory=set)
    problems: list[BadLine] = field(default_factory=list)
    torn_tail: bool = False
    # wall-clock times (time.time()) of the latest requests to this target, oldest first
    recent_starts: list[float] = field(default_factory=list)


def read_history(path: Path, host: str, app_id: str, *, keep_starts: int = 0) -> History:
    """Campaigns whose latest non-dry-run outcome for this target is deleted/not_found,
    and when the last ``keep_starts`` requests to it (dry runs too) were sent."""
    history = History()
    if not path.exists():
        return history
    real_runs: set[str] = set()  # real runs against this target
    target_runs: set[str] = set()  # dry or real
    # only the timing fields: lines carry campaign snapshots, and keep_starts may be large
    latest: deque[dict[str, Any]] = deque(maxlen=keep_starts)
    for _, item in iter_records(path):
        if isinstance(item, BadLine):
            history.problems.append(item)
            history.torn_tail = history.torn_tail or "cut off" in item.problem
            continue
        event, run_id = item.get("event"), str(item.get("run_id"))
        if event == "run_started":
            target = item.get("target") or {}
            if isinstance(target, dict) and (target.get("host"), target.get("app_id")) == (
                host,
                app_id,
            ):
                target_runs.add(run_id)
                if not item.get("dry_run"):
                    real_runs.add(run_id)
        elif event == "campaign" and run_id in target_runs:
            if keep_starts:
                latest.append({k: item.get(k) for k in ("ts", "duration_ms", "attempts")})
            campaign_id = item.get("campaign_id")
            if run_id not in real_runs or not isinstance(campaign_id, str):
                continue
            if item.get("outcome") in DONE_OUTCOMES:
                history.done.add(campaign_id)
            else:
                history.done.discard(campaign_id)
    history.recent_starts = sorted(t for item in latest for t in request_times(item))
    return history


def request_times(record: dict[str, Any]) -> list[float]:
    """When a campaign line's requests were sent, as well as the line tells: the first at
    ``ts - duration_ms``, retries at ``ts`` (later than they were: the safe side)."""
    ended_at = parse_utc(record.get("ts"))
    if ended_at is None:
        return []
    ended = ended_at.timestamp()
    try:
        first = ended - float(record.get("duration_ms") or 0) / 1000
        attempts = max(1, int(record.get("attempts") or 1))
    except (TypeError, ValueError):
        return []
    return [first] + [ended] * (attempts - 1)


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
