"""Where an account's budget lives: ``MemoryStore`` (this process), ``FileStore`` (this
machine) or ``RedisStore`` (every machine naming one Redis, on Redis's own clock). Each
keeps a ``SlotBook``; one ``step`` is one transaction (one locked write, one Redis round
trip), however many slots and answers. Whatever cannot be trusted (a link, another
user's file, a Redis error or one refusing ``TIME`` in scripts) is a ``RateStoreError``:
the run stops rather than use a budget nobody else sees."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import hashlib
import os
import secrets
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from bulkops.errors import RateStoreError
from bulkops.jsoncodec import dumps
from bulkops.model import RunSettings, Target
from bulkops.ratelimit.slots import Ask, Grant, SlotBook, to_ms

LEASE_SLACK = 10.0  # seconds past the timeout before an unanswered slot is presumed answered
FORMAT = 2  # the "bulkops_budget" version of the file (1: seconds, replaced by a new book)
MAX_BYTES = 16 << 20  # a budget file is a few kB; more is not ours
RETRY = (0.0005, 0.02)  # seconds between tries of a lock another process holds: first, most
REDIS_TIMEOUT = 5.0  # seconds for Redis to connect or answer before the run stops
NO_LINK = os.O_NOFOLLOW | os.O_CLOEXEC  # opened files: never through a link, never inherited
SCRIPT = resources.files("bulkops.ratelimit").joinpath("slots.lua").read_text(encoding="utf-8")


def account_key(target: Target) -> str:
    """What names one account's budget in every store: its host and account id, hashed."""
    return hashlib.sha256(f"{target.host}\n{target.account_id}".encode()).hexdigest()[:24]


def open_store(settings: RunSettings, target: Target) -> MemoryStore:
    """The store ``run.rate_store`` names (``local`` or ``redis://...``) for ``target``'s
    account. Nothing is contacted yet: the first ``step`` does."""
    lease = settings.timeout + LEASE_SLACK
    if settings.rate_store.startswith(("redis://", "rediss://")):
        return RedisStore(settings.rate_store, target, lease=lease)
    header = {"host": target.host, "account_id": target.account_id}
    return FileStore(state_dir() / f"budget-{account_key(target)}.json", lease=lease, header=header)


class MemoryStore:
    """This process's budget, on an injectable clock (s); the base of every store: a step
    as this run (its name, random: liveness is a lease, not a pid or host name)."""

    description = "this process"  # for messages: where the budget is kept (never a password)

    def __init__(self, *, lease: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.book = SlotBook()
        self.owner, self._lease = secrets.token_hex(6), to_ms(lease)
        self._clock = clock

    def _as_mine(self, ask: Ask) -> Ask:
        return dataclasses.replace(ask, owner=self.owner, lease=self._lease)

    async def step(self, ask: Ask) -> Grant:
        return self.book.step(int(self._clock() * 1000), self._as_mine(ask))

    async def close(self) -> None:
        pass


def state_dir() -> Path:
    """``$XDG_STATE_HOME/bulkops`` (if absolute, as XDG says), else ``~/.local/state/bulkops``."""
    base = os.environ.get("XDG_STATE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "bulkops"


class FileStore(MemoryStore):
    """The book as one JSON line in ``$XDG_STATE_HOME/bulkops/budget-<account hash>.json``,
    0600 in a directory made 0700, locked without blocking (a signal ends the run at once)."""

    def __init__(
        self, path: Path, *, lease: float, header: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        super().__init__(lease=lease, clock=clock)
        self.path, self.description = path, f"the local budget file {path}"
        self._header = header or {}
        self._fd: int | None = None

    async def step(self, ask: Ask) -> Grant:
        if self._fd is None:
            self._fd = _open_private(self.path)
        fd, delay = self._fd, RETRY[0]
        try:
            while True:  # never a blocking lock: a signal ends the run at once
                with contextlib.suppress(BlockingIOError):
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY[1])
            try:
                book = self._load(fd)
                grant = book.step(int(self._clock() * 1000), self._as_mine(ask))
                raw = dumps({"bulkops_budget": FORMAT, **self._header, "book": book})
                os.pwrite(fd, raw + b"\n", 0)  # in place, then the old tail cut off: a process
                os.ftruncate(fd, len(raw) + 1)  # killed between the two leaves it after the line
                return grant
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise RateStoreError(f"{self.description}: {exc.strerror or exc}") from exc

    async def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _load(self, fd: int) -> SlotBook:
        raw = os.pread(fd, min(os.fstat(fd).st_size, MAX_BYTES), 0).split(b"\n", 1)[0]
        try:
            doc = orjson.loads(raw) if raw else {"bulkops_budget": 1}
            if not isinstance(doc, dict) or doc.get("bulkops_budget") not in (1, FORMAT):
                raise ValueError("not a bulkops budget file")
            return SlotBook.from_doc(doc["book"]) if doc["bulkops_budget"] == FORMAT else SlotBook()
        except (ValueError, KeyError) as exc:
            raise RateStoreError(f"{self.path} is not a rate budget bulkops can read "
                                 f"({str(exc)[:80]}). Remove it, once no bulkops run has "
                                 "worked on this account for a full window of its rate "
                                 "limit") from None  # fmt: skip


def _open_private(path: Path) -> int:
    """``path``, made 0600 in a directory made 0700, neither through a link."""
    try:
        path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        folder = _owned(os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | NO_LINK), path.parent)
        try:
            fd = os.open(path.name, os.O_RDWR | os.O_CREAT | NO_LINK, 0o600, dir_fd=folder)
        finally:
            os.close(folder)
        return _owned(fd, path)
    except OSError as exc:
        raise RateStoreError(f"cannot open {path} for the account's rate budget: "
                             f"{exc.strerror or exc} (a link is never followed; set "
                             "XDG_STATE_HOME to a directory of your own)") from exc  # fmt: skip


def _owned(fd: int, path: Path) -> int:
    """``fd``, unless another user owns it or group or others may write it: such a file could
    lie about the budget (then it is closed and the run stops)."""
    info = os.fstat(fd)
    if info.st_uid != os.getuid() or info.st_mode & 0o022:  # group or others may write
        os.close(fd)
        raise RateStoreError(f"{path} is not safe to keep the rate budget in: it must be yours "
                             "and writable by you alone (chmod go-w, or set XDG_STATE_HOME to "
                             "a directory of your own)")  # fmt: skip
    return fd


class RedisStore(MemoryStore):
    """``slots.lua`` on the key ``bulkops:{<account hash>}:book``; ``clock`` (seconds)
    replaces Redis's own, for tests."""

    def __init__(
        self, url: str, target: Target, *, lease: float, clock: Callable[[], float] | None = None
    ) -> None:
        import redis.asyncio as aioredis  # only runs that use Redis pay for importing it

        super().__init__(lease=lease)
        parts = urlsplit(url)  # no user, password or options in messages
        where = f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"
        self.description = f"the shared rate budget at {where}"
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.key = f"bulkops:{{{account_key(target)}}}:book"
        self._redis_clock = clock
        self._script = self._client.register_script(SCRIPT)
        self._errors = (aioredis.RedisError, OSError)

    async def step(self, ask: Ask) -> Grant:
        now = "" if self._redis_clock is None else str(int(self._redis_clock() * 1000))
        try:
            reply = await self._script(keys=[self.key], args=[now, dumps(self._as_mine(ask))])
        except self._errors as exc:
            problem = str(exc)
            if "TIME refused" in problem or "non deterministic" in problem:
                problem = "it refuses TIME in scripts, and the hosts' own clocks would not agree"
            raise RateStoreError(f"{self.description} cannot be used ({problem[:200]}): "
                                 "stopping, since sending without it could exceed the "
                                 "account's rate limit") from exc  # fmt: skip
        return Grant(tuple(t.decode() for t in reply[1:]), int(reply[0]))

    async def close(self) -> None:
        await self._client.aclose()
