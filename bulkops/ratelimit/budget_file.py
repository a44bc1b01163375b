"""The account's budget shared by every bulkops process on this machine: one small file.

``$XDG_STATE_HOME/bulkops/budget-<hash of host and account>.json`` (default
``~/.local/state/bulkops/``) holds the ``SlotBook`` as one JSON line. Every
change happens under an exclusive ``flock`` on the file and rewrites it in
place with one ``write`` (a rename costs ~200 µs on overlay file systems,
more than all the rest): a process killed at any instant leaves the old line
or the new one, and a stale tail after the newline is never read. The file
outlives the runs: slots of a run killed with ``kill -9`` stay counted (its
unanswered requests count as answered when another process sees it has gone),
so a restart never bursts. Times are the machine's wall clock; a time in the
future (the clock was set back) is pulled back to now, which errs on the
safe side.
"""

from __future__ import annotations

import fcntl
import functools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from bulkops.errors import RateStoreError
from bulkops.jsoncodec import dumps, loads
from bulkops.model import Target
from bulkops.ratelimit.budget import Answers, account_key, new_owner, owner_alive, release_all
from bulkops.ratelimit.slots import Cap, Grant, SlotBook

T = TypeVar("T")
FORMAT = 1  # the "bulkops_budget" version of the file
MAX_BYTES = 64 << 20  # a budget file is a few kB; more is not ours


def state_dir() -> Path:
    """``$XDG_STATE_HOME/bulkops`` (a relative XDG_STATE_HOME is ignored, as the XDG
    spec says), else ``~/.local/state/bulkops``."""
    base = os.environ.get("XDG_STATE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "bulkops"


class FileStore:
    """A ``BudgetStore`` in one file; every method is one locked read-change-write."""

    def __init__(
        self, path: Path, *, lease: float, header: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.path = path
        self.description = f"the local budget file {path}"
        self._header = header or {}
        self._lease = lease
        self._clock = clock
        self.owner = new_owner()
        self._tokens = (f"{self.owner}#{n}" for n in range(1 << 62))
        self._fd: int | None = None
        self._last: tuple[bytes, SlotBook] | None = None  # what we wrote last, parsed
        self.clamped = 0  # times found in the future (the clock was set back)

    @classmethod
    def for_account(cls, target: Target, *, lease: float) -> FileStore:
        key = account_key(target)
        header = {"host": target.host, "account_id": target.account_id}
        return cls(state_dir() / f"budget-{key}.json", lease=lease, header=header)

    async def take(self, want: int, caps: Sequence[Cap], answers: Answers = ()) -> Grant:
        return self.take_now(want, caps, answers)

    def take_now(self, want: int, caps: Sequence[Cap], answers: Answers = ()) -> Grant:
        def step(book: SlotBook, now: float) -> Grant:
            release_all(book, now, answers)
            return book.take(now, self.owner, want, caps, self._tokens, self._lease)

        return self._change(step)

    async def release(self, answers: Sequence[tuple[str, float]], *, sent: bool = True) -> None:
        self._change(lambda book, now: book.release(now, answers, sent=sent))

    async def preload(self, answered_ago: Sequence[float]) -> int:
        return self._change(lambda book, now: book.preload([now - a for a in answered_ago], now))

    async def close(self) -> None:
        if self._fd is None:
            return
        try:
            self._change(lambda book, now: book.forget_owner(self.owner))
        finally:
            os.close(self._fd)
            self._fd = None

    # ------------------------------------------------------------------ one transaction

    def _change(self, change: Callable[[SlotBook, float], T]) -> T:
        fd = self._lock()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                book = self._load()
                now = self._clock()
                self.clamped += book.clamp(now, self._lease)
                book.settle(now, functools.lru_cache(maxsize=None)(owner_alive))
                result = change(book, now)
                self._save(book)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise RateStoreError(f"{self.description}: {exc.strerror or exc}") from exc
        return result

    def _lock(self) -> int:
        if self._fd is None:
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
                self._fd = os.open(self.path, flags, 0o600)
            except OSError as exc:
                raise RateStoreError(
                    f"cannot open {self.path} for the account's rate budget: "
                    f"{exc.strerror or exc} (set XDG_STATE_HOME to a writable directory)"
                ) from exc
        return self._fd

    def _load(self) -> SlotBook:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        raw = os.pread(self._fd, min(size, MAX_BYTES), 0).split(b"\n", 1)[0]
        last, self._last = self._last, None  # the book is about to change
        if last is not None and last[0] == raw:
            return last[1]  # nobody else wrote since we did: spare the parse
        if not raw:
            return SlotBook()  # a new file
        try:
            doc = loads(raw)
            if not isinstance(doc, dict) or doc.get("bulkops_budget") != FORMAT:
                raise ValueError("not a bulkops budget file")
            return SlotBook.from_doc(doc.get("book"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RateStoreError(
                f"{self.path} is not a rate budget bulkops can read ({str(exc)[:80]}). "
                "Remove it, once no bulkops run has worked on this account for a full "
                "window of its rate limit"
            ) from None

    def _save(self, book: SlotBook) -> None:
        """In place, under the lock: one write of one line, then the old tail cut off. A
        process killed between the two leaves a stale tail after the newline: ignored."""
        assert self._fd is not None
        raw = dumps({"bulkops_budget": FORMAT, **self._header, "book": book.to_doc()})
        os.pwrite(self._fd, raw + b"\n", 0)
        os.ftruncate(self._fd, len(raw) + 1)
        self._last = (raw, book)
