"""What a sandbox starts with and what can be switched while it runs.

``SandboxConfig`` is the start; its fault and limit fields seed a ``Settings``,
which ``/_sandbox/config`` patches later. Both validate every value through the
converters here, so a bad rate or probability fails before it is served.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from bulkops.sandbox.flips import Flip, flips

Rate = tuple[int, float]  # (count, window seconds)

RETRY_AFTER_MODES = ("integer", "exact", "date", "none")
ID_FIELDS = ("_id", "id")
# where a Create's answer puts the new id; "dialect": data._id, data.campId for a Preview
# campaign in the kore dialect (as Kore.ai's Preview page shows it)
CREATED_ID_PLACES = ("dialect", "_id", "campId", "id", "top_id", "top__id")
DIALECTS = ("bulkops", "kore")  # see dialect.py
# fault codes besides plain HTTP statuses (faults.py answers them)
DROP, HANG, NON_JSON = 0, -1, -2  # no answer; held then 504; a 502 HTML page
FAILURE_BODY, HTML, TRUNCATED, HTML_404, REDIRECT = -3, -4, -5, -6, -7
FAULT_NAMES = {
    "drop": DROP,
    "hang": HANG,
    "non_json": NON_JSON,
    "failure_body": FAILURE_BODY,  # 200 {"status": "failure", ...}
    "html": HTML,  # 200 with a proxy's HTML login page
    "truncated": TRUNCATED,  # 200 with a JSON body cut off half-way
    "html_404": HTML_404,  # 404 with a web server's HTML page (wrong host or path)
    "redirect": REDIRECT,  # redirect_status to /_sandbox/redirected/... (counted if followed)
    "rate_limit": 429,  # a rate-limit refusal in the dialect's words
}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
CREATES = "create"  # the key of ``scripted``/``fail_always`` for Create calls (no id yet)
_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "m": 60.0}
_UNITS |= {"min": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hour": 3600.0}
_UNITS |= {"hours": 3600.0}
_RATE_RE = re.compile(r"\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]*)\s*")


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
    if isinstance(value, str) and value.strip() in FAULT_NAMES:
        return FAULT_NAMES[value.strip()]
    status = int(value) if isinstance(value, str) and value.strip().isdigit() else value
    ok = isinstance(status, int) and not isinstance(status, bool)
    if ok and (100 <= status <= 599 or (allow_drop and status == DROP)):
        return int(status)
    names = ", ".join(FAULT_NAMES)
    raise ValueError(f"expected an HTTP status or a fault ({names}): {value!r}")


def fault_name(code: int) -> str | int:
    """A fault code as shown: its name if it has one, else the status."""
    return next((name for name, c in FAULT_NAMES.items() if c == code and code <= 0), code)


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


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected an integer >= 0, got {value!r}")
    return value


def _text(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"expected a message or null, got {value!r}")
    return value


def _choice(options: tuple[Any, ...]) -> Any:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return str(value)

    return check


_CONVERTERS: dict[str, Any] = {
    "rates": _rates,
    "flip_active": flips,
    "retry_after_mode": _choice(RETRY_AFTER_MODES),
    "latency": _seconds,
    "latency_jitter": _seconds,
    "arrival_jitter": _seconds,
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
    "dialect": _choice(DIALECTS),
    "rate_limit_status": _status,
    "redirect_status": lambda v: _choice(REDIRECT_STATUSES)(_status(v)),
    "echo_token": lambda v: _flag(v),
    "pad_messages": lambda v: _count(v),
    "not_found_message": lambda v: _text(v),
    "auth_message": lambda v: _text(v),
    "rate_limit_message": lambda v: _text(v),
    "ready_after": _seconds,
    "created_id_at": _choice(CREATED_ID_PLACES),
}


@dataclass
class Settings:
    """The run-time switchable part: faults and limits (``/_sandbox/config`` patches it)."""

    rates: tuple[Rate, ...] = ()
    flip_active: tuple[Flip, ...] = ()  # campaigns that go Active while a run goes on (flips.py)
    retry_after_mode: str = "integer"
    latency: float = 0.0
    latency_jitter: float = 0.0
    arrival_jitter: float = 0.0  # a random 0..this many seconds before a request is counted
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
    dialect: str = "bulkops"
    rate_limit_status: int = 429
    redirect_status: int = 302
    echo_token: bool = False
    pad_messages: int = 0  # characters added to every error message
    not_found_message: str | None = None  # instead of the dialect's own wording
    auth_message: str | None = None  # the message of an ``auth_status`` answer
    rate_limit_message: str | None = None
    ready_after: float = 0.5  # seconds a created campaign stays Preparing before it is Ready
    created_id_at: str = "dialect"  # where a Create's answer puts the new id
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
        out["error_rates"] = {str(fault_name(k)): p for k, p in self.error_rates.items()}
        out["scripted"] = {k: [fault_name(c) for c in v] for k, v in self.scripted.items()}
        out["fail_always"] = {k: fault_name(c) for k, c in self.fail_always.items()}
        out["flip_active"] = [list(f) for f in self.flip_active]
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
    flip_active: tuple[Any, ...] = ()  # (after seconds, count) pairs or "AFTER:N" strings
    retry_after_mode: str = "integer"
    latency: float = 0.0
    latency_jitter: float = 0.0
    arrival_jitter: float = 0.0
    error_rates: Mapping[int, float] = field(default_factory=dict)
    drop_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    non_json_rate: float = 0.0
    scripted: Mapping[str, Iterable[int]] = field(default_factory=dict)
    fail_always: Mapping[str, int] = field(default_factory=dict)
    auth_status: int | None = None
    scripted_retry_after: float = 1.0
    dialect: str = "bulkops"
    rate_limit_status: int = 429
    redirect_status: int = 302
    echo_token: bool = False
    pad_messages: int = 0
    not_found_message: str | None = None
    rate_limit_message: str | None = None
    ready_after: float = 0.5
    created_id_at: str = "dialect"
    contact_lists: tuple[str, ...] = ()  # exist besides the seeded ones (a Create may name them)
    auth_message: str | None = None
    tls_cert: str = ""  # PEM certificate (and key, unless tls_key): serve https
    tls_key: str = ""
    more_app_ids: tuple[str, ...] = ()  # other apps of the same account (one rate limit for all)

    def __post_init__(self) -> None:
        if len(self.client_secret.encode()) < 32:  # else pyjwt warns on every request
            raise ValueError("client_secret must be at least 32 bytes (RFC 7518 section 3.2)")
        self.settings()  # fail at construction, not on the first request

    def settings(self) -> Settings:
        s = Settings()
        s.apply({name: getattr(self, name) for name in SETTING_NAMES})
        return s
