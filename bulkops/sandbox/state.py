"""What the sandbox knows, without any HTTP: settings, campaigns, limits, JWTs, faults, stats.

``server`` puts aiohttp in front of a ``SandboxState``. Everything here is
synchronous and runs on the server's event loop, so no locks are needed: a
check-then-delete never interleaves with another request.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import jwt

from bulkops.sandbox.config import Rate, SandboxConfig
from bulkops.sandbox.flips import ACTIVE, FlipClock
from bulkops.sandbox.store import CampaignStore, iso


class RollingWindows:
    """Strict rolling windows: admit only if every window saw fewer than N admissions."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        self._windows = [(count, window, deque[float]()) for count, window in rates]

    def admit(self, now: float) -> float | None:
        """Record and return None if admitted, else the seconds until a slot frees."""
        wait, full = 0.0, False
        for count, window, times in self._windows:
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= count:
                full = True
                wait = max(wait, times[-count] + window - now)
        if full:
            return wait
        for _, _, times in self._windows:
            times.append(now)
        return None


class Stats:
    """What reached the server. Plain attributes: the handlers bump them directly."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.clear()

    def clear(self) -> None:
        self.total_requests = 0  # campaign calls (DELETE, GET, list); /_sandbox/* excluded
        self.by_method: dict[str, int] = {}
        self.methods: list[str] = []  # the method of each campaign call, in arrival order
        self.by_status: dict[int, int] = {}  # answered ones; drops are counted in ``dropped``
        self.rate_limited = 0  # 429s from the rolling windows (scripted 429s not included)
        self.dropped = 0
        self.hung = 0
        self.max_in_flight = self.in_flight
        self.delete_requests: dict[str, int] = {}  # every DELETE received, per id
        self.deletes: dict[str, int] = {}  # successful deletes per id: never above 1
        self.deleted_ids: list[str] = []
        self.deleted_at: dict[str, float] = {}  # time.monotonic() of each successful delete
        self.status_changes: list[dict[str, Any]] = []  # see flips.py
        self.stopped_ids: list[str] = []  # campaigns the Stop call stopped, in order
        self.arrivals: list[float] = []  # time.monotonic() of each admitted request
        self.first_request_at: float | None = None
        self.last_request_at: float | None = None
        self.list_calls: list[Any] = []  # bodies of list calls that reached the handler
        self.redirects_followed = 0  # requests that followed a ``redirect`` fault
        self.by_api: dict[str, int] = {}  # campaign calls per path family: v1, v2
        self.injected: dict[str, list[str]] = {}  # fault (name or status) -> campaign ids hit
        self.created: list[dict[str, Any]] = []  # each campaign a Create made: id, name, body

    def snapshot(self, store: CampaignStore) -> dict[str, Any]:
        """A JSON-ready copy (status keys as strings), as ``GET /_sandbox/stats`` shows it."""
        return {
            "total_requests": self.total_requests,
            "by_method": dict(self.by_method),
            "methods": list(self.methods),
            "by_status": {str(k): n for k, n in sorted(self.by_status.items())},
            "rate_limited": self.rate_limited,
            "dropped": self.dropped,
            "hung": self.hung,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "campaigns": {
                cid: {
                    "delete_requests": n,
                    "deletes": self.deletes.get(cid, 0),
                    "deleted": store.is_deleted(cid),
                }
                for cid, n in self.delete_requests.items()
            },
            "deleted_ids": list(self.deleted_ids),
            "stopped_ids": list(self.stopped_ids),
            "arrivals": list(self.arrivals),
            "first_request_at": self.first_request_at,
            "last_request_at": self.last_request_at,
            "list_calls": list(self.list_calls),
            "redirects_followed": self.redirects_followed,
            "by_api": dict(self.by_api),
            "injected": {fault: list(ids) for fault, ids in self.injected.items()},
            "created": list(self.created),
            "live_campaigns": len(store),
            "deleted_at": dict(self.deleted_at),
            "status_changes": [dict(c) for c in self.status_changes],
        }


class SandboxState:
    """One sandbox's world: config, settings, campaigns, limiter, seen JWT ids, stats."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.settings = config.settings()
        self.store = CampaignStore(random.Random(config.seed))
        self.stats = Stats()
        self.limiter = RollingWindows(self.settings.rates)
        self.fault_rng = random.Random(f"faults-{config.seed}")
        self.jitter_rng = random.Random(f"jitter-{config.seed}")
        self.arrival_rng = random.Random(f"arrival-{config.seed}")
        self.flip_rng = random.Random(f"flips-{config.seed}")
        self.flip_clock = FlipClock(self.settings.flip_active)
        self._jtis: dict[str, float] = {}  # jti -> exp; an expired one can't be replayed anyway
        self._prune_at = 10_000
        self.store.contact_lists.update(config.contact_lists)
        self.store.generate(config.campaigns)
        for cid in config.seed_ids:
            if self.store.get(cid) is None:
                self.store.add({"_id": cid})

    def configure(self, changes: Mapping[str, Any]) -> None:
        self.settings.apply(changes)
        if "rates" in changes:
            self.limiter = RollingWindows(self.settings.rates)
        if "flip_active" in changes:
            self.flip_clock = FlipClock(self.settings.flip_active)

    def flip_due(self, now: float) -> None:
        """Scheduled campaigns go Active now, if their time has come (``flips``)."""
        count = self.flip_clock.due(now)
        if count:
            candidates = [c.id for c in self.store.ordered() if c.status != ACTIVE]
            for cid in self.flip_rng.sample(candidates, min(count, len(candidates))):
                self.change_status(cid, ACTIVE, now)

    def change_status(self, campaign_id: str, status: str, now: float) -> dict[str, Any] | None:
        """Sets a live campaign's status and records the change; None if no such campaign."""
        campaign = self.store.get(campaign_id)
        if campaign is None:
            return None
        change = {
            "campaign_id": campaign_id, "before": campaign.status, "status": status,
            "at": now, "at_utc": iso(datetime.now(timezone.utc)),
        }  # fmt: skip
        campaign.status = status
        self.stats.status_changes.append(change)
        return change

    def check_auth(
        self, headers: Mapping[str, str], path_app_id: str
    ) -> tuple[int, str, str] | None:
        """None if the call may proceed, else (401|403, message, what: token|app|account)."""
        cfg = self.config
        token = headers.get("auth")
        if not token:
            return 401, "Missing auth token", "token"
        try:
            claims = jwt.decode(
                token, cfg.client_secret, algorithms=["HS256"],
                options={"require": ["exp", "iat", "jti"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            return 401, "Token expired", "token"
        except jwt.PyJWTError as exc:
            return 401, f"Invalid token: {exc}", "token"
        if claims.get("appId") != cfg.client_id:
            return 401, "Invalid token: appId is not a known client", "token"
        jti = str(claims["jti"])
        if jti in self._jtis:
            return 401, "Invalid token: jti already used", "token"
        self._remember_jti(jti, float(claims["exp"]))
        apps = (cfg.app_id, *cfg.more_app_ids)
        if path_app_id not in apps or headers.get("iid") != path_app_id:
            return 403, "Access denied: iid does not match the application", "app"
        if headers.get("accountId") != cfg.account_id:
            return 403, "Access denied: accountId does not match", "account"
        return None

    def _remember_jti(self, jti: str, exp: float) -> None:
        self._jtis[jti] = exp
        if len(self._jtis) >= self._prune_at:
            now = datetime.now(timezone.utc).timestamp()
            self._jtis = {j: e for j, e in self._jtis.items() if e >= now}
            self._prune_at = max(10_000, 2 * len(self._jtis))

    def pick_fault(self, campaign_id: str | None) -> int | None:
        """The fault for this request (a status or a code of config.FAULT_NAMES) or None."""
        s = self.settings
        if campaign_id is not None:
            script = s.scripted.get(campaign_id)
            if script:
                status = script.popleft()
                return None if 200 <= status < 300 else status
            if campaign_id in s.fail_always:
                return s.fail_always[campaign_id]
        if s.fault_table:
            u = self.fault_rng.random()
            for threshold, code in s.fault_table:
                if u < threshold:
                    return code
        return None

    def snapshot(self) -> dict[str, Any]:
        return self.stats.snapshot(self.store)
