"""A hostile Kore.ai stand-in on loopback: each route answers whatever a test scripts."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from aiohttp import web

# (status, body) for the n-th call of a kind (1-based)
Script = Callable[[int], tuple[int, bytes]]

BASE = "/agentassist/api/v1/public/{app}/campaign"
STOP = "/campaign/api/v1/public/{app}/campaign"


def as_json(doc: Any, status: int = 200) -> tuple[int, bytes]:
    return status, json.dumps(doc).encode()


def deep(levels: int) -> bytes:
    """A success whose ``data`` nests ``levels`` arrays deep."""
    return b'{"status":"success","data":{"x":' + b"[" * levels + b"]" * levels + b"}}"


def _not_found(n: int) -> tuple[int, bytes]:
    return as_json({"errors": [{"msg": "no route"}]}, 404)


class HostileServer:
    """``with HostileServer(list=..., delete=...) as srv``: ``srv.url``, ``srv.calls[kind]``.

    Kinds: ``list`` (the list call), ``delete``, ``get``, ``stop`` (the Stop call); unscripted
    ones answer a JSON 404 "no route"."""

    def __init__(self, **scripts: Script) -> None:
        self.scripts = scripts
        self.calls: Counter[str] = Counter()
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def _handler(self, kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def answer(request: web.Request) -> web.Response:
            self.calls[kind] += 1
            status, body = self.scripts.get(kind, _not_found)(self.calls[kind])
            return web.Response(status=status, body=body, content_type="application/json")

        return answer

    async def _start(self) -> str:
        app = web.Application()
        base = BASE.format(app="{app}")
        for method, path, kind in (
            ("POST", f"{base}/getAllCampaignDetails", "list"),
            ("DELETE", f"{base}/{{id}}", "delete"),
            ("GET", f"{base}/{{id}}", "get"),
            ("POST", STOP.format(app="{app}") + "/{id}", "stop"),
        ):
            app.router.add_route(method, path, self._handler(kind))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
