"""The HTTP face of a ``SandboxState`` (``_Api``) and ``Sandbox``, which serves it."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from aiohttp import web

from bulkops.sandbox.config import CREATES, DROP, HANG, SandboxConfig, fault_name
from bulkops.sandbox.create import answer_create, change_contact_lists
from bulkops.sandbox.dialect import MESSAGES, Replier
from bulkops.sandbox.faults import REDIRECTED, fault_answer
from bulkops.sandbox.state import SandboxState, Stats
from bulkops.sandbox.store import BadRequest, list_page

BASES = (
    "/agentassist/api/v1/public/{app_id}/campaign",
    "/campaign/api/v2/public/{app_id}/campaign",
)
V2_PREFIX = "/campaign/api/v2/"
STOP = "/campaign/api/v1/public/{app_id}/campaign/{campaign_id}"  # Kore.ai's Stop call
SHUTDOWN_GRACE = 1.0  # seconds in-flight (e.g. hung) requests get when the sandbox stops

Action = Callable[[web.Request, str | None], Awaitable[web.StreamResponse]]


def failure(status: int, message: str | None = None, **headers: str) -> web.Response:
    """An error answer in the sandbox's own dialect (for its /_sandbox/* calls)."""
    body = {"status": "failure", "message": message or MESSAGES.get(status, f"Error {status}")}
    return web.json_response(body, status=status, headers=headers or None)


def _api(request: web.Request) -> str:
    """Which documented path family a call came in on: v1 or v2."""
    return "v2" if request.path.startswith(V2_PREFIX) else "v1"


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
        calls = [
            route(base + path, handler)
            for base in BASES
            for route, path, handler in (
                (web.delete, "/{campaign_id}", self.delete),
                (web.get, "/{campaign_id}", self.get),
                (web.post, "/getAllCampaignDetails", self.list_campaigns),
                (web.post, "", self.create),
            )
        ]
        return calls + [
            web.post(STOP, self.stop),
            web.route("*", REDIRECTED + "/{tail:.*}", self.redirected),
            web.post("/_sandbox/campaigns/{campaign_id}/status", self.set_status),
            web.get("/_sandbox/stats", self.stats),
            web.delete("/_sandbox/stats", self.clear_stats),
            web.get("/_sandbox/config", self.show_config),
            web.post("/_sandbox/config", self.patch_config),
            web.post("/_sandbox/campaigns", self.add_campaigns),
            web.post("/_sandbox/contact-lists", self.contact_lists),
        ]

    async def delete(self, request: web.Request) -> web.StreamResponse:
        return await self._campaign_call(request, self._delete)

    async def get(self, request: web.Request) -> web.StreamResponse:
        return await self._campaign_call(request, self._get)

    async def list_campaigns(self, request: web.Request) -> web.StreamResponse:
        return await self._campaign_call(request, self._list)

    async def create(self, request: web.Request) -> web.StreamResponse:
        return await self._campaign_call(request, self._create, script_key=CREATES)

    async def stop(self, request: web.Request) -> web.StreamResponse:
        return await self._campaign_call(request, self._stop)

    async def _campaign_call(
        self, request: web.Request, action: Action, script_key: str | None = None
    ) -> web.StreamResponse:
        await self._delay_arrival()
        stats = self.state.stats
        now = time.monotonic()
        stats.total_requests += 1
        stats.by_method[request.method] = stats.by_method.get(request.method, 0) + 1
        stats.methods.append(request.method)
        api = _api(request)
        stats.by_api[api] = stats.by_api.get(api, 0) + 1
        if stats.first_request_at is None:
            stats.first_request_at = now
        stats.last_request_at = now
        self.state.flip_due(now)
        campaign_id = request.match_info.get("campaign_id")
        if request.method == "DELETE" and campaign_id is not None:
            stats.delete_requests[campaign_id] = stats.delete_requests.get(campaign_id, 0) + 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            resp = await self._gated(request, now, campaign_id, action, script_key)
        finally:
            stats.in_flight -= 1
        if resp is None:  # drop: no answer at all; writing to the closed transport is a no-op
            stats.dropped += 1
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        stats.by_status[resp.status] = stats.by_status.get(resp.status, 0) + 1
        return resp

    async def _delay_arrival(self) -> None:
        """A network that delays each request a random while before the server counts it."""
        jitter = self.state.settings.arrival_jitter
        if jitter:
            await asyncio.sleep(jitter * self.state.arrival_rng.random())

    async def _gated(
        self, request: web.Request, now: float, campaign_id: str | None, action: Action,
        script_key: str | None,
    ) -> web.StreamResponse | None:  # fmt: skip
        state, s = self.state, self.state.settings
        reply = self._reply(request)
        if s.auth_status is not None:
            return reply.error(s.auth_status, s.auth_message)
        denied = state.check_auth(request.headers, request.match_info["app_id"])
        if denied is not None:
            return reply.denied(*denied)
        if request.path.startswith(V2_PREFIX) and (
            request.query.get("accountId") != state.config.account_id
        ):
            return reply.error(400, "accountId query parameter is missing or wrong")
        wait = state.limiter.admit(now)
        if wait is not None:
            state.stats.rate_limited += 1
            return reply.rate_limited(wait)
        state.stats.arrivals.append(now)
        delay = s.latency + (
            s.latency_jitter * state.jitter_rng.random() if s.latency_jitter else 0
        )
        if delay > 0:
            await asyncio.sleep(delay)
        fault = state.pick_fault(campaign_id or script_key)
        if fault is None:
            return await action(request, campaign_id)
        state.stats.injected.setdefault(str(fault_name(fault)), []).append(campaign_id or "")
        if fault == DROP:
            return None
        if fault == HANG:
            state.stats.hung += 1
            await asyncio.sleep(s.hang_seconds)
            return reply.error(504)  # a hang is a fault: nothing was deleted
        return fault_answer(fault, request, reply, s)

    def _reply(self, request: web.Request) -> Replier:
        return Replier(self.state.settings, request.headers.get("auth", ""))

    async def _delete(self, request: web.Request, campaign_id: str | None) -> web.StreamResponse:
        assert campaign_id is not None
        wanted = self.state.config.campaign_type
        if request.query.get("campaignType") != wanted:
            return self._reply(request).error(400, f"campaignType must be '{wanted}'")
        campaign = self.state.store.delete(campaign_id)
        if campaign is None:
            return self._reply(request).missing()
        stats = self.state.stats
        stats.deletes[campaign_id] = stats.deletes.get(campaign_id, 0) + 1
        stats.deleted_ids.append(campaign_id)
        stats.deleted_at[campaign_id] = time.monotonic()
        message = f"Campaign {campaign.name} deleted successfully"
        return web.json_response({"status": "success", "message": message, "data": campaign.full()})

    async def _get(self, request: web.Request, campaign_id: str | None) -> web.StreamResponse:
        assert campaign_id is not None
        campaign = self.state.store.get(campaign_id)
        if campaign is None:
            return self._reply(request).missing()
        message = "Campaign details fetched successfully"
        return web.json_response({"status": "success", "message": message, "data": campaign.full()})

    async def _stop(self, request: web.Request, campaign_id: str | None) -> web.StreamResponse:
        assert campaign_id is not None
        config, query, reply = self.state.config, request.query, self._reply(request)
        if query.get("trigger") != "stop":
            return reply.error(400, "trigger must be 'stop'")
        if query.get("accountId") != config.account_id:
            return reply.error(400, "accountId is missing or unknown")
        if query.get("campaignType") != config.campaign_type:
            return reply.error(400, f"campaignType must be '{config.campaign_type}'")
        campaign = self.state.store.get(campaign_id)
        if campaign is None:
            return reply.missing()
        campaign.status = "Stopped"
        self.state.stats.stopped_ids.append(campaign_id)
        return web.json_response(
            {"status": "Stopped", "message": "Campaign Stopped", "data": campaign.full()}
        )

    async def _create(self, request: web.Request, _: str | None) -> web.StreamResponse:
        return await answer_create(self.state, request, self._reply(request), _api(request))

    async def _list(self, request: web.Request, _: str | None) -> web.StreamResponse:
        state = self.state
        try:
            body = await request.json()
        except ValueError:
            return self._reply(request).error(400, "Request body must be JSON")
        state.stats.list_calls.append(body)
        try:
            data = list_page(
                state.store, body, state.config.campaign_type, state.settings.id_field,
                _api(request),
            )  # fmt: skip
        except BadRequest as exc:
            return self._reply(request).error(400, str(exc))
        return web.json_response(
            {"status": "success", "message": "Campaigns fetched", "data": data}
        )

    async def redirected(self, request: web.Request) -> web.Response:
        """Where the ``redirect`` fault points: a client that follows it lands here."""
        self.state.stats.redirects_followed += 1
        body = {"status": "success", "message": "Campaign deleted", "data": {}}
        return web.json_response(body)

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

    async def set_status(self, request: web.Request) -> web.Response:
        """``{"status": "Active"}``: the campaign's status changes now, recorded (flips.py)."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str) or not status.strip():
            return failure(400, 'expected {"status": "Active"} (any status name)')
        change = self.state.change_status(
            request.match_info["campaign_id"], status.strip(), time.monotonic()
        )
        if change is None:
            return failure(404, "no such live campaign")
        return web.json_response({"status": "success", "data": change})

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

    async def contact_lists(self, request: web.Request) -> web.Response:
        try:
            known = change_contact_lists(self.state.store, await request.json())
        except ValueError as exc:
            return failure(400, str(exc))
        return web.json_response({"status": "success", "data": {"contactLists": known}})


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
        scheme = "https" if self.config.tls_cert else "http"
        return (
            f"{scheme}://[{host}]:{self.port}" if ":" in host else f"{scheme}://{host}:{self.port}"
        )

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
            await web.TCPSite(runner, host, self.config.port, ssl_context=self._tls()).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.url

    def _tls(self) -> ssl.SSLContext | None:
        """https with the configured certificate (e.g. a self-signed one), else None."""
        if not self.config.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key or None)
        return context

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
