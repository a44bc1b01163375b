"""``SandboxThread``: a sandbox for synchronous code, on its own loop in its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from bulkops.sandbox.config import SandboxConfig
from bulkops.sandbox.server import Sandbox


class SandboxThread:
    """A Sandbox on its own loop in a background thread, for synchronous tests.

    ``with SandboxThread(campaigns=10) as sb: subprocess.run([... sb.url ...])``.
    Every method hops onto the sandbox's loop, so it is safe from any thread.
    """

    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        self.sandbox = Sandbox(config, **overrides)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.sandbox.url

    @property
    def config(self) -> SandboxConfig:
        return self.sandbox.config

    def start(self) -> str:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="bulkops-sandbox", daemon=True)
        self._thread.start()
        try:
            return asyncio.run_coroutine_threadsafe(self.sandbox.start(), loop).result(10)
        except BaseException:
            self.stop()
            raise

    def _run(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.sandbox.stop(), loop).result(10)
        finally:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> SandboxThread:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` on the sandbox's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("sandbox thread not started")

        async def run() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def stats_snapshot(self) -> dict[str, Any]:
        """A plain-dict copy of the stats (as ``GET /_sandbox/stats`` shows them)."""
        result: dict[str, Any] = self.call(self.sandbox.state.snapshot)
        return result

    def clear_stats(self) -> None:
        self.call(self.sandbox.stats.clear)

    def configure(self, **changes: Any) -> None:
        self.call(self.sandbox.configure, **changes)

    def add_campaigns(
        self, campaigns: Iterable[Mapping[str, Any]] = (), count: int = 0
    ) -> list[str]:
        ids: list[str] = self.call(self.sandbox.add_campaigns, list(campaigns), count)
        return ids

    def campaign_ids(self, include_deleted: bool = False) -> list[str]:
        ids: list[str] = self.call(self.sandbox.campaign_ids, include_deleted)
        return ids
