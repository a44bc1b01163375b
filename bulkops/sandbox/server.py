"""A local Kore.ai-compatible campaign API on loopback, with switchable faults and limits.

For the demo, the end-to-end tests and the benchmark. Speaks exactly the calls
SPEC.md "What is sent" lists, checks the JWT the way Kore.ai does (HS256,
``appId``, ``exp``, ``iat``, enforced unique ``jti``), and enforces strict
rolling-window rate limits. Independent of ``bulkops.client``/``auth``/``ratelimit``.

Every campaign call goes: auth -> rate limit -> latency -> faults -> real handling.
A fault never deletes anything. A dropped request gets its connection closed
with no answer at all (aiohttp clients see ``ServerDisconnectedError``).

    async with Sandbox(SandboxConfig(campaigns=20, rates=("5/s",))) as sb:
        ...  # sb.url, sb.stats, sb.configure(drop_rate=0.1), sb.add_campaigns(...)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from email.utils import formatdate
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from bulkops.sandbox.state import (
    DROP,
    HANG,
    ID_FIELDS,
    NON_JSON,
    RETRY_AFTER_MODES,
    BadRequest,
    SandboxConfig,
    SandboxState,
    Stats,
    list_page,
    parse_rate,
)

__all__ = ["Sandbox", "SandboxConfig", "SandboxThread", "main", "parse_rate"]

BASE = "/agentassist/api/v1/public/{app_id}/campaign"
RATE_LIMIT_MESSAGE = "Rate limit for this API has been reached. Please try again later"
MESSAGES = {
    400: "Campaign is running and cannot be deleted",
    401: "Unauthorized: invalid or expired token",
    403: "Forbidden: no access to this application",
    404: "Campaign not found",
    408: "Request timeout",
    429: RATE_LIMIT_MESSAGE,
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}
SHUTDOWN_GRACE = 1.0  # seconds in-flight (e.g. hung) requests get when the sandbox stops

Action = Callable[[web.Request, str | None], Awaitable[web.StreamResponse]]


def failure(status: int, message: str | None = None, **headers: str) -> web.Response:
    body = {"status": "failure", "message": message or MESSAGES.get(status, f"Error {status}")}
    return web.json_response(body, status=status, headers=headers or None)


def retry_after(mode: str, seconds: float) -> dict[str, str]:
    """The Retry-After header for a wait of ``seconds``, in the configured ``mode``."""
    if mode == "none":
        return {}
    if mode == "exact":
        return {"Retry-After": f"{max(seconds, 0.001):.3f}"}
    if mode == "date":  # HTTP dates have whole seconds: round up, never early
        return {"Retry-After": formatdate(math.ceil(time.time() + seconds), usegmt=True)}
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def check_loopback(host: str) -> str:
    """The address to bind; ValueError unless ``host`` is a loopback address."""
    if host == "localhost":
        return "127.0.0.1"  # one address: port 0 on two families would give two ports
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"sandbox host must be a loopback address (127.0.0.0/8, ::1), got {host!r}")


class _Api:
    """The HTTP face of a SandboxState."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        return [
            web.delete(BASE + "/{campaign_id}", self.delete),
            web.get(BASE + "/{campaign_id}", self.get),
            web.post(BASE + "/getAllCampaignDetails", self.list_campaigns),
            web.get("/_sandbox/stats", self.stats),
            web.delete("/_sandbox/stats", self.clear_stats),
            web.get("/_sandbox/config", self.show_config),
            web.post("/_sandbox/config", self.patch_config),
            web.post("/_sandbox/campaigns", self.add_campaigns),
        ]

    async def delete(self, request: web.Request) -> web.StreamResponse:
        return await self._campaign_call(request, self._delete)

    async def get(self, request: web.Request) -> web.StreamResponse:
        return await self._campaign_call(request, self._get)

    async def list_campaigns(self, request: web.Request) -> web.StreamResponse:
        return await self._campaign_call(request, self._list)

    async def _campaign_call(self, request: web.Request, action: Action) -> web.StreamResponse:
        stats = self.state.stats
        now = time.monotonic()
        stats.total_requests += 1
        stats.by_method[request.method] = stats.by_method.get(request.method, 0) + 1
        stats.methods.append(request.method)
        if stats.first_request_at is None:
            stats.first_request_at = now
        stats.last_request_at = now
        campaign_id = request.match_info.get("campaign_id")
        if request.method == "DELETE" and campaign_id is not None:
            stats.delete_requests[campaign_id] = stats.delete_requests.get(campaign_id, 0) + 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            resp = await self._gated(request, now, campaign_id, action)
        finally:
            stats.in_flight -= 1
        if resp is None:  # drop: no answer at all; writing to the closed transport is a no-op
            stats.dropped += 1
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        stats.by_status[resp.status] = stats.by_status.get(resp.status, 0) + 1
        return resp

    async def _gated(
        self, request: web.Request, now: float, campaign_id: str | None, action: Action
    ) -> web.StreamResponse | None:
        state, s = self.state, self.state.settings
        if s.auth_status is not None:
            return failure(s.auth_status)
        denied = state.check_auth(request.headers, request.match_info["app_id"])
        if denied is not None:
            return failure(*denied)
        wait = state.limiter.admit(now)
        if wait is not None:
            state.stats.rate_limited += 1
            return failure(429, **retry_after(s.retry_after_mode, wait))
        state.stats.arrivals.append(now)
        delay = s.latency + (
            s.latency_jitter * state.jitter_rng.random() if s.latency_jitter else 0
        )
        if delay > 0:
            await asyncio.sleep(delay)
        fault = state.pick_fault(campaign_id)
        if fault is None:
            return await action(request, campaign_id)
        if fault == DROP:
            return None
        if fault == HANG:
            state.stats.hung += 1
            await asyncio.sleep(s.hang_seconds)
            return failure(504)  # a hang is a fault: nothing was deleted
        if fault == NON_JSON:
            return web.Response(
                status=502, text="<html>Bad gateway</html>", content_type="text/html"
            )
        if fault == 429:
            return failure(429, **retry_after(s.retry_after_mode, s.scripted_retry_after))
        return failure(fault)

    async def _delete(self, request: web.Request, campaign_id: str | None) -> web.StreamResponse:
        assert campaign_id is not None
        wanted = self.state.config.campaign_type
        if request.query.get("campaignType") != wanted:
            return failure(400, f"campaignType must be '{wanted}'")
        campaign = self.state.store.delete(campaign_id)
        if campaign is None:
            return failure(404)
        stats = self.state.stats
        stats.deletes[campaign_id] = stats.deletes.get(campaign_id, 0) + 1
        stats.deleted_ids.append(campaign_id)
        message = f"Campaign {campaign.name} deleted successfully"
        return web.json_response({"status": "success", "message": message, "data": campaign.full()})

    async def _get(self, request: web.Request, campaign_id: str | None) -> web.StreamResponse:
        assert campaign_id is not None
        campaign = self.state.store.get(campaign_id)
        if campaign is None:
            return failure(404)
        message = "Campaign details fetched successfully"
        return web.json_response({"status": "success", "message": message, "data": campaign.full()})

    async def _list(self, request: web.Request, _: str | None) -> web.StreamResponse:
        state = self.state
        try:
            body = await request.json()
        except ValueError:
            return failure(400, "Request body must be JSON")
        state.stats.list_calls.append(body)
        try:
            data = list_page(state.store, body, state.config.campaign_type, state.settings.id_field)
        except BadRequest as exc:
            return failure(400, str(exc))
        return web.json_response(
            {"status": "success", "message": "Campaigns fetched", "data": data}
        )

    async def stats(self, _: web.Request) -> web.Response:
        return web.json_response(self.state.snapshot())

    async def clear_stats(self, _: web.Request) -> web.Response:
        self.state.stats.clear()
        return web.json_response({"status": "success"})

    async def show_config(self, _: web.Request) -> web.Response:
        return web.json_response(self.state.settings.as_json())

    async def patch_config(self, request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of settings")
            self.state.configure(changes)
        except ValueError as exc:
            return failure(400, str(exc))
        return web.json_response(self.state.settings.as_json())

    async def add_campaigns(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if isinstance(body, dict) and set(body) == {"count"}:
                ids = self.state.store.generate(int(body["count"]))
            elif isinstance(body, list):
                ids = [self.state.store.add(item).id for item in body]
            else:
                raise ValueError('expected a list of campaign objects or {"count": N}')
        except (TypeError, ValueError, KeyError) as exc:
            return failure(400, str(exc))
        return web.json_response({"status": "success", "data": {"added": ids}})


class Sandbox:
    """One sandbox server on the running event loop: ``async with Sandbox(cfg) as sb``."""

    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        self.config = replace(config or SandboxConfig(), **overrides)
        self.state = SandboxState(self.config)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def stats(self) -> Stats:
        return self.state.stats

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("sandbox not started")
        host = check_loopback(self.config.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    async def start(self) -> str:
        """Bind (loopback only, else ValueError) and serve; returns ``url``."""
        host = check_loopback(self.config.host)
        app = web.Application()
        app.add_routes(_Api(self.state).routes())
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, self.config.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def configure(self, **changes: Any) -> None:
        """Change faults/limits now (same names as SandboxConfig); ValueError if invalid."""
        self.state.configure(changes)

    def add_campaigns(
        self, campaigns: Iterable[Mapping[str, Any]] = (), count: int = 0
    ) -> list[str]:
        """Add campaigns with explicit fields (``_id``, ``name``, ``status``, ``createdAt``...,
        anything missing made up) plus ``count`` made-up ones; returns their ids."""
        ids = [self.state.store.add(c).id for c in campaigns]
        return ids + self.state.store.generate(count)

    def campaign_ids(self, include_deleted: bool = False) -> list[str]:
        """Live ids, newest first (then the deleted ones if asked)."""
        return self.state.store.ids(include_deleted)


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


# ---------------------------------------------------------------- command line

EPILOG = """\
example:
  bulkops sandbox --port 8765 --campaigns 200 --rate 20/s --rate 400/10s \\
      --error-rate 503=0.05 --latency 0.02 --ready-file /tmp/sandbox.json
  then point a job's target.host at http://127.0.0.1:8765 with the printed
  client id, app id and account id, and export the printed KOREAI_CLIENT_SECRET.
  Faults can be changed while it runs:
  curl -X POST localhost:8765/_sandbox/config -d '{"drop_rate": 0.1}'
"""


def read_ids(path: str) -> tuple[str, ...]:
    """Ids from a file: one a line; blank lines and ``#`` comments ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {exc}") from None
    ids = (re.sub(r"(^|\s)#.*", "", line).strip() for line in lines)
    return tuple(i for i in ids if i)


def _error_rate(spec: str) -> tuple[int, float]:
    status, _, p = spec.partition("=")
    try:
        return int(status), float(p)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected STATUS=P like 503=0.1, got {spec!r}") from None


def _rate_arg(spec: str) -> tuple[int, float]:
    try:
        return parse_rate(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser(prog: str = "bulkops sandbox") -> argparse.ArgumentParser:
    """The ``bulkops sandbox`` arguments; every dest is a SandboxConfig field, or
    ``ready_file``/``quiet``."""
    d = SandboxConfig()
    p = argparse.ArgumentParser(
        prog=prog,
        description="Local Kore.ai-compatible campaign API for rehearsals (loopback only).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add("--host", default=d.host, help="loopback address to bind (default %(default)s)")
    add("--port", type=int, default=8765, help="0 = any free port (default %(default)s)")
    add("--campaigns", type=int, default=50, help="made-up campaigns (default %(default)s)")
    add("--seed", type=int, default=d.seed, help="PRNG seed for data and faults")
    add("--seed-ids", type=read_ids, default=(), metavar="FILE", help="also create these ids")
    add("--client-id", default=d.client_id)
    add("--client-secret", default=d.client_secret, help="throwaway; printed on start")
    add("--app-id", default=d.app_id)
    add("--account-id", default=d.account_id)
    add("--campaign-type", default=d.campaign_type)
    add("--rate", dest="rates", action="append", type=_rate_arg, default=[], metavar="N/W",
        help="strict rolling window, repeatable: 20/s, 60/min, 1800/hour, 5/2s")  # fmt: skip
    add("--retry-after-mode", choices=RETRY_AFTER_MODES, default=d.retry_after_mode)
    add("--latency", type=float, default=0.0, metavar="SECONDS")
    add("--latency-jitter", type=float, default=0.0, metavar="SECONDS")
    add("--error-rate", dest="error_rates", action="append", type=_error_rate, default=[],
        metavar="STATUS=P", help="answer STATUS with probability P, repeatable")  # fmt: skip
    add("--drop-rate", type=float, default=0.0, metavar="P", help="close without answering")
    add("--hang-rate", type=float, default=0.0, metavar="P", help="hold, then answer 504")
    add("--hang-seconds", type=float, default=d.hang_seconds, metavar="S")
    add("--non-json-rate", type=float, default=0.0, metavar="P", help="502 with an HTML body")
    add("--id-field", choices=ID_FIELDS, default=d.id_field, help="id key in list results")
    add("--ready-file", metavar="PATH", help="write JSON {url, port, ...} here once listening")
    add("--quiet", action="store_true", help="print nothing")
    return p


def _write_atomic(path: str, doc: Mapping[str, Any]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def _banner(sb: Sandbox) -> str:
    c = sb.config
    rates = ", ".join(f"{n}/{w:g}s" for n, w in sb.state.settings.rates) or "none"
    return (
        f"bulkops sandbox listening on {sb.url} ({len(sb.state.store)} campaigns, "
        f"rate limits: {rates})\n"
        f"  client id:     {c.client_id}\n  client secret: {c.client_secret}\n"
        f"  app id:        {c.app_id}\n  account id:    {c.account_id}\n"
        f"  export KOREAI_CLIENT_SECRET={c.client_secret}\n"
        f"  stats: {sb.url}/_sandbox/stats   (Ctrl-C to stop)"
    )


async def _serve(config: SandboxConfig, ready_file: str | None, quiet: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Sandbox(config) as sb:
        if not quiet:
            print(_banner(sb), flush=True)
        if ready_file:
            c = sb.config
            _write_atomic(ready_file, {
                "url": sb.url, "port": sb.port, "client_id": c.client_id,
                "app_id": c.app_id, "account_id": c.account_id, "pid": os.getpid(),
            })  # fmt: skip
        try:
            await stop.wait()
        finally:
            if ready_file:
                with contextlib.suppress(OSError):
                    os.unlink(ready_file)
    if not quiet:
        s = sb.stats
        summary = f"{len(s.deleted_ids)} deleted, {s.rate_limited} rate-limited"
        print(f"sandbox stopped: {s.total_requests} requests, {summary}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``bulkops sandbox ARGS``: serve until SIGINT/SIGTERM, then return 0."""
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    ready_file, quiet = args.pop("ready_file"), args.pop("quiet")
    try:
        config = SandboxConfig(**args)
        check_loopback(config.host)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        return asyncio.run(_serve(config, ready_file, quiet))
    except OSError as exc:  # e.g. the port is taken
        print(
            f"{parser.prog}: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr
        )
        return 1
