"""What the sandbox knows, without any HTTP: configuration, campaigns, faults, limits, stats.

``sandbox.py`` puts aiohttp in front of a ``SandboxState``. Everything here is
synchronous and runs on the server's event loop, so no locks are needed: a
check-then-delete never interleaves with another request.

Deliberately independent of ``bulkops.client``/``auth``/``ratelimit``: the
sandbox checks the client, so it must not share its mistakes.
"""

from __future__ import annotations

import math
import random
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

Rate = tuple[int, float]  # (count, window seconds)

RETRY_AFTER_MODES = ("integer", "exact", "date", "none")
ID_FIELDS = ("_id", "id")
DROP, HANG, NON_JSON = 0, -1, -2  # fault codes besides plain HTTP statuses
STATUSES: tuple[str, ...] = ("Active", "Completed", "Ready", "Paused", "Preparing", "Stopped")
STATUSES += ("Scheduled", "Rescheduled")
STATUS_WEIGHTS = (12, 25, 10, 10, 5, 20, 10, 8)
DIALING_MODES = ("Agentless", "Preview", "Progressive")
NAME_STEMS = (
    "Billing Reminder",
    "Test Outbound",
    "Renewal Drive",
    "Payment Follow-up",
    "Customer Survey",
    "Appointment Confirmation",
    "Win-back Offer",
    "Delivery Notice",
)
CONTACT_LISTS = ("Recent Buyers - Q2 2025", "Overdue Accounts", "VIP Customers", "Trial Users")
TIMEZONES = ("Asia/Kolkata", "America/New_York", "Europe/London", "UTC")
SEED_SPAN = timedelta(days=120)
_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "m": 60.0}
_UNITS |= {"min": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hour": 3600.0}
_UNITS |= {"hours": 3600.0}
_RATE_RE = re.compile(r"\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]*)\s*")


class BadRequest(ValueError):
    """A request the sandbox answers 400, with this message."""


def parse_rate(spec: str) -> Rate:
    """``"N/W"`` (``20/s``, ``60/min``, ``1800/hour``, ``5/2s``, ``5/0.5s``) -> (N, seconds)."""
    m = _RATE_RE.fullmatch(spec.lower())
    if not m or m.group(3) not in _UNITS or m.group(2) in (".",):
        raise ValueError(f"bad rate {spec[:40]!r}: expected N/W like 20/s, 60/min, 5/2s")
    window = (float(m.group(2)) if m.group(2) else 1.0) * _UNITS[m.group(3)]
    return _rate(int(m.group(1)), window)


def _rate(count: Any, window: Any) -> Rate:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"rate count must be a positive integer, got {count!r}")
    return count, _positive(window, "rate window")


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"expected seconds >= 0, got {value!r}")
    return float(value)


def _prob(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"expected a probability 0..1, got {value!r}")
    return float(value)


def _status(value: Any, allow_drop: bool = False) -> int:
    status = int(value) if isinstance(value, str) and value.strip().isdigit() else value
    ok = isinstance(status, int) and not isinstance(status, bool)
    if ok and (100 <= status <= 599 or (allow_drop and status == DROP)):
        return int(status)
    raise ValueError(f"expected an HTTP status{' or 0 (drop)' if allow_drop else ''}: {value!r}")


def _rates(value: Any) -> tuple[Rate, ...]:
    items = [value] if isinstance(value, (str, Mapping)) else list(value or ())
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(parse_rate(item))
        elif isinstance(item, Mapping):
            out.append(_rate(item.get("count"), item.get("window")))
        else:
            count, window = item
            out.append(_rate(count, window))
    return tuple(out)


def _choice(options: tuple[str, ...]) -> Any:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return str(value)

    return check


_CONVERTERS: dict[str, Any] = {
    "rates": _rates,
    "retry_after_mode": _choice(RETRY_AFTER_MODES),
    "latency": _seconds,
    "latency_jitter": _seconds,
    "error_rates": lambda v: {_status(k): _prob(p) for k, p in dict(v or {}).items()},
    "drop_rate": _prob,
    "hang_rate": _prob,
    "hang_seconds": _seconds,
    "non_json_rate": _prob,
    "scripted": lambda v: {
        str(k): deque(_status(s, True) for s in seq) for k, seq in dict(v or {}).items()
    },
    "fail_always": lambda v: {str(k): _status(s, True) for k, s in dict(v or {}).items()},
    "auth_status": lambda v: None if v in (None, 0) else _status(v),
    "scripted_retry_after": _seconds,
    "id_field": _choice(ID_FIELDS),
}


@dataclass
class Settings:
    """The run-time switchable part: faults and limits (``/_sandbox/config`` patches it)."""

    rates: tuple[Rate, ...] = ()
    retry_after_mode: str = "integer"
    latency: float = 0.0
    latency_jitter: float = 0.0
    error_rates: dict[int, float] = field(default_factory=dict)
    drop_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    non_json_rate: float = 0.0
    scripted: dict[str, deque[int]] = field(default_factory=dict)
    fail_always: dict[str, int] = field(default_factory=dict)
    auth_status: int | None = None
    scripted_retry_after: float = 1.0
    id_field: str = "_id"
    # cumulative (threshold, fault code) for the one random draw per request
    fault_table: list[tuple[float, int]] = field(default_factory=list, repr=False)

    def apply(self, changes: Mapping[str, Any]) -> None:
        """Validate and apply ``changes`` all-or-nothing; ValueError names the bad field."""
        checked = {}
        for key, value in changes.items():
            if key not in _CONVERTERS:
                raise ValueError(f"unknown setting {key!r}; known: {', '.join(_CONVERTERS)}")
            try:
                checked[key] = _CONVERTERS[key](value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{key}: {exc}") from exc
        trial = replace(self, **checked)
        table, total = [], 0.0
        pairs = [(DROP, trial.drop_rate), (HANG, trial.hang_rate), (NON_JSON, trial.non_json_rate)]
        for code, p in pairs + sorted(trial.error_rates.items()):
            if p > 0:
                total += p
                table.append((total, code))
        if total > 1 + 1e-9:
            raise ValueError(f"fault probabilities add up to {total:g}, more than 1")
        for key, value in checked.items():
            setattr(self, key, value)
        self.fault_table = table

    def as_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "fault_table"}
        out["rates"] = [list(r) for r in self.rates]
        out["error_rates"] = {str(k): p for k, p in self.error_rates.items()}
        out["scripted"] = {k: list(v) for k, v in self.scripted.items()}
        return out


SETTING_NAMES = tuple(_CONVERTERS)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox starts with. The fault/limit fields seed its ``Settings``."""

    host: str = "127.0.0.1"
    port: int = 0
    campaigns: int = 0
    seed: int = 1
    seed_ids: tuple[str, ...] = ()
    client_id: str = "cs-sandbox-demo"
    client_secret: str = "sandbox-secret-not-for-production"
    app_id: str = "st-sandbox-app"
    account_id: str = "acc-sandbox"
    campaign_type: str = "voice"
    id_field: str = "_id"
    rates: tuple[Any, ...] = ()  # (count, window) pairs or "N/W" strings
    retry_after_mode: str = "integer"
    latency: float = 0.0
    latency_jitter: float = 0.0
    error_rates: Mapping[int, float] = field(default_factory=dict)
    drop_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    non_json_rate: float = 0.0
    scripted: Mapping[str, Iterable[int]] = field(default_factory=dict)
    fail_always: Mapping[str, int] = field(default_factory=dict)
    auth_status: int | None = None
    scripted_retry_after: float = 1.0

    def __post_init__(self) -> None:
        if len(self.client_secret.encode()) < 32:  # else pyjwt warns on every request
            raise ValueError("client_secret must be at least 32 bytes (RFC 7518 section 3.2)")
        self.settings()  # fail at construction, not on the first request

    def settings(self) -> Settings:
        s = Settings()
        s.apply({name: getattr(self, name) for name in SETTING_NAMES})
        return s


def iso(when: datetime) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``, as Kore.ai writes timestamps."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{when.microsecond // 1000:03d}Z"
    )


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError(f"expected an ISO timestamp, got {value!r}")
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _hex_id(prefix: str, rng: random.Random) -> str:
    h = f"{rng.getrandbits(124):031x}"
    return f"{prefix}-{h[:7]}-{h[7:11]}-{h[11:15]}-{h[15:19]}-{h[19:31]}"


@dataclass(slots=True)
class Campaign:
    id: str
    name: str
    status: str
    priority: str
    dialing_mode: str
    created_at: str
    updated_at: str
    contact_lists: list[str]
    sort_key: float  # createdAt as a timestamp: the list is newest first
    extra: dict[str, Any]  # fields given explicitly beyond the summary ones

    def summary(self, id_field: str) -> dict[str, Any]:
        return {
            id_field: self.id,
            "name": self.name,
            "status": self.status,
            "priority": self.priority,
            "dialingMode": self.dialing_mode,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "contactLists": list(self.contact_lists),
        }

    def full(self) -> dict[str, Any]:
        """The whole object, shaped like the reference sample; details derive from the id."""
        rng = random.Random(self.id)  # str seeds are hashed with sha512: stable across runs
        hours = {"start": "9:00 AM", "end": "6:00 PM"}
        data = self.summary("_id") | {
            "lname": self.name.lower(),
            "description": f"{self.dialing_mode} dialing campaign: {self.name}.",
            "dialingStrategy": {
                "callerId": {"phoneNumber": f"+1812{rng.randrange(10**7):07d}"},
                "callingHours": {
                    "frequency": "WEEKLY",
                    "days": [hours | {"day": d} for d in ("MO", "TU", "WE", "TH", "FR")],
                    "timezone": rng.choice(TIMEZONES),
                },
                "dialingOrder": rng.choice(("FIFO", "LIFO")),
                "maxAttemptsPerRecord": rng.randint(1, 5),
                "defaultRetryPeriod": rng.choice((5, 10, 15, 30)),
                "maxRingTime": rng.choice((20, 30, 45)),
            },
            "maxSkips": rng.randint(0, 3),
            "schedule": {"isSchedulingEnabled": False, "isRecurrenceEnabled": False},
            "campaignInstanceId": _hex_id("cid", rng),
            "enableMachineDetect": rng.random() < 0.3,
        }
        return data | self.extra


_SUMMARY_KEYS: tuple[str, ...] = (
    "_id",
    "id",
    "name",
    "status",
    "priority",
    "dialingMode",
    "createdAt",
)
_SUMMARY_KEYS += ("updatedAt", "contactLists")


class CampaignStore:
    """Live campaigns by id, the deleted ones kept aside so a second delete is a 404."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng  # seeded: same seed, same campaigns (up to ``now``)
        self._live: dict[str, Campaign] = {}
        self._deleted: dict[str, Campaign] = {}
        self._ordered: list[Campaign] | None = None  # newest first; None when stale
        self._added = 0  # numbers generated names

    def _random_fields(self, now: datetime) -> dict[str, Any]:
        rng = self._rng
        created = now - SEED_SPAN * rng.random()
        return {
            "name": f"{rng.choice(NAME_STEMS)} {self._added + 1}",
            "status": rng.choices(STATUSES, STATUS_WEIGHTS)[0],
            "priority": str(rng.randint(1, 5)),
            "dialingMode": rng.choice(DIALING_MODES),
            "createdAt": created,
            "updatedAt": min(now, created + timedelta(days=14) * rng.random()),
            "contactLists": rng.sample(CONTACT_LISTS, rng.randint(1, 2)),
        }

    def add(self, given: Mapping[str, Any] | None = None) -> Campaign:
        """Add one campaign; fields not ``given`` are made up (seeded). Returns it."""
        given = dict(given or {})
        cid = given.get("_id", given.get("id")) or _hex_id("cd", self._rng)
        if not isinstance(cid, str) or not 1 <= len(cid) <= 256:
            raise ValueError(f"campaign id must be a string of 1 to 256 characters: {cid!r}")
        if cid in self._live:
            raise ValueError(f"campaign {cid!r} already exists")
        f = self._random_fields(datetime.now(timezone.utc)) | given
        created, updated = _parse_time(f["createdAt"]), _parse_time(f["updatedAt"])
        campaign = Campaign(
            id=cid,
            name=str(f["name"]),
            status=str(f["status"]),
            priority=str(f["priority"]),
            dialing_mode=str(f["dialingMode"]),
            created_at=iso(created),
            updated_at=iso(updated),
            contact_lists=[str(x) for x in f["contactLists"]],
            sort_key=created.timestamp(),
            extra={k: v for k, v in given.items() if k not in _SUMMARY_KEYS},
        )
        self._added += 1
        self._deleted.pop(cid, None)
        self._live[cid] = campaign
        self._ordered = None
        return campaign

    def generate(self, count: int) -> list[str]:
        return [self.add().id for _ in range(count)]

    def get(self, cid: str) -> Campaign | None:
        return self._live.get(cid)

    def delete(self, cid: str) -> Campaign | None:
        """Remove and return the campaign, or None if unknown or already deleted."""
        campaign = self._live.pop(cid, None)
        if campaign is not None:
            self._deleted[cid] = campaign
            self._ordered = None
        return campaign

    def is_deleted(self, cid: str) -> bool:
        return cid in self._deleted

    def ids(self, include_deleted: bool = False) -> list[str]:
        live = [c.id for c in self.ordered()]
        return live + list(self._deleted) if include_deleted else live

    def ordered(self) -> list[Campaign]:
        if self._ordered is None:  # sorted() is stable, reverse=True included
            self._ordered = sorted(self._live.values(), key=lambda c: c.sort_key, reverse=True)
        return self._ordered

    def __len__(self) -> int:
        return len(self._live)


_FILTERS = {"status": "status", "priority": "priority", "dialingMode": "dialing_mode"}


def _int_field(body: Mapping[str, Any], key: str, default: int | None, low: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BadRequest(f"{key} must be an integer >= {low}")
    return value


def list_page(store: CampaignStore, body: Any, campaign_type: str, id_field: str) -> dict[str, Any]:
    """The ``data`` of a getAllCampaignDetails answer; BadRequest for a body we refuse."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    if body.get("type") != campaign_type:
        raise BadRequest(f"type must be '{campaign_type}'")
    limit = _int_field(body, "limit", 10, 1) or 10
    if limit > 100:
        raise BadRequest("limit must be at most 100")
    page = _int_field(body, "page", 1, 1) or 1
    skip = _int_field(body, "skip", None, 0)
    offset = (page - 1) * limit if skip is None else skip
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise BadRequest("filters must be an object")
    wanted = []
    for key, values in filters.items():
        if key not in _FILTERS:
            raise BadRequest(f"unknown filter {str(key)[:40]!r}; known: {', '.join(_FILTERS)}")
        values = values if isinstance(values, list) else [values]
        if values:
            wanted.append((_FILTERS[key], {str(v) for v in values}))
    matches = [c for c in store.ordered() if all(getattr(c, a) in vs for a, vs in wanted)]
    total = len(matches)
    return {
        "results": [c.summary(id_field) for c in matches[offset : offset + limit]],
        "hasMore": offset + limit < total,
        "totalPages": math.ceil(total / limit),
        "totalResults": total,
        "skip": offset,
        "limit": limit,
        "page": offset // limit + 1,
    }


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
        self.arrivals: list[float] = []  # time.monotonic() of each admitted request
        self.first_request_at: float | None = None
        self.last_request_at: float | None = None
        self.list_calls: list[Any] = []  # bodies of list calls that reached the handler

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
            "arrivals": list(self.arrivals),
            "first_request_at": self.first_request_at,
            "last_request_at": self.last_request_at,
            "list_calls": list(self.list_calls),
            "live_campaigns": len(store),
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
        self._jtis: dict[str, float] = {}  # jti -> exp; an expired one can't be replayed anyway
        self._prune_at = 10_000
        self.store.generate(config.campaigns)
        for cid in config.seed_ids:
            if self.store.get(cid) is None:
                self.store.add({"_id": cid})

    def configure(self, changes: Mapping[str, Any]) -> None:
        self.settings.apply(changes)
        if "rates" in changes:
            self.limiter = RollingWindows(self.settings.rates)

    def check_auth(self, headers: Mapping[str, str], path_app_id: str) -> tuple[int, str] | None:
        """None if the call may proceed, else (401|403, message)."""
        cfg = self.config
        token = headers.get("auth")
        if not token:
            return 401, "Missing auth token"
        try:
            claims = jwt.decode(
                token, cfg.client_secret, algorithms=["HS256"],
                options={"require": ["exp", "iat", "jti"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            return 401, "Token expired"
        except jwt.PyJWTError as exc:
            return 401, f"Invalid token: {exc}"
        if claims.get("appId") != cfg.client_id:
            return 401, "Invalid token: appId is not a known client"
        jti = str(claims["jti"])
        if jti in self._jtis:
            return 401, "Invalid token: jti already used"
        self._remember_jti(jti, float(claims["exp"]))
        if headers.get("iid") != cfg.app_id or path_app_id != cfg.app_id:
            return 403, "Access denied: iid does not match the application"
        if headers.get("accountId") != cfg.account_id:
            return 403, "Access denied: accountId does not match"
        return None

    def _remember_jti(self, jti: str, exp: float) -> None:
        self._jtis[jti] = exp
        if len(self._jtis) >= self._prune_at:
            now = datetime.now(timezone.utc).timestamp()
            self._jtis = {j: e for j, e in self._jtis.items() if e >= now}
            self._prune_at = max(10_000, 2 * len(self._jtis))

    def pick_fault(self, campaign_id: str | None) -> int | None:
        """The fault for this request (a status, DROP, HANG, NON_JSON) or None."""
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
