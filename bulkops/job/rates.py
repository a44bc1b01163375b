"""Rate specs (``60/min``) and ages (``30d``) as the job file and the command line write them."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from bulkops.errors import JobError
from bulkops.job.yamlsafe import Value
from bulkops.model import RateSpec
from bulkops.text import excerpt

MAX_RATE_COUNT = 1_000_000
MAX_RATE_WINDOW = 30 * 86400.0  # seconds
MAX_RATES = 10
_RATE = re.compile(
    r"\s*([0-9]{1,9})\s*/\s*([0-9]{0,9}(?:\.[0-9]{1,9})?)\s*([a-z]+)\s*", re.I | re.A
)
_UNITS = {
    unit: seconds
    for seconds, units in (
        (1.0, "s sec secs second seconds"),
        (60.0, "m min mins minute minutes"),
        (3600.0, "h hr hrs hour hours"),
        (86400.0, "d day days"),
    )
    for unit in units.split()
}
_AGE = re.compile(r"([0-9]{1,6})([smhdw])", re.ASCII)
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RATE_EXAMPLE = "like 10/s, 60/min, 1800/hour or 5/2s"


def parse_age(text: str) -> timedelta | None:
    """An age like 12h, 30d or 8w (units s, m, h, d, w); None if ``text`` is not one."""
    age = _AGE.fullmatch(text.strip())
    return timedelta(seconds=int(age[1]) * _AGE_UNITS[age[2]]) if age else None


def read_rates(value: Value) -> tuple[RateSpec, ...]:
    """One spec, a list of at most MAX_RATES, or ``none`` / ``[]``: no rate limit at all."""
    if isinstance(value.raw, str):
        if value.raw.strip().lower() == "none":
            return ()
        return (parse_rate_spec(value.raw, value.where),)
    items = list(value.items())
    if len(items) > MAX_RATES:
        value.fail(f"{len(items)} specs; at most {MAX_RATES} are allowed")
    return tuple(parse_rate_spec(item.string(max_len=100), item.where) for item in items)


def parse_rate_spec(text: str, field: str = "run.rate") -> RateSpec:
    """``N/W``: at most N requests started in any window W, e.g. 10/s, 60/min, 5/2s.

    W is an optional positive number and a unit: s/sec/second(s), m/min/minute(s),
    h/hr/hour(s), d/day(s). N is 1 to 1,000,000; the window at most 30 days.
    ``RateSpec.text`` keeps ``text`` (surrounding whitespace removed).
    """
    match = _RATE.fullmatch(text) if isinstance(text, str) else None
    unit = _UNITS.get(match[3].lower()) if match else None
    if not match or not unit or match[2] == ".":
        raise JobError(f"{field}: expected a rate {_RATE_EXAMPLE}, got {excerpt(text)}")
    count, window = int(match[1]), (float(match[2]) if match[2] else 1.0) * unit
    if not 1 <= count <= MAX_RATE_COUNT:
        raise JobError(f"{field}: {excerpt(text)}: the count must be from 1 to {MAX_RATE_COUNT:,}")
    if not 0 < window <= MAX_RATE_WINDOW:
        raise JobError(f"{field}: {excerpt(text)}: the window must be more than 0, at most 30 days")
    return RateSpec(count, window, text.strip())


RATE_STORE_ENV = "BULKOPS_RATE_STORE"  # a whole fleet's default for run.rate_store
_REDIS_SCHEMES = ("redis", "rediss")
_CREDENTIALS = {"password", "username", "user", "pass", "auth"}  # as query options


def parse_rate_store(text: str, field: str, *, secrets_ok: bool) -> str:
    """``local`` or ``redis://HOST[:PORT][/DB]`` (``rediss://`` for TLS).

    A password belongs in the environment (``secrets_ok``), never in the job file;
    an error never quotes one.
    """
    if text.strip().lower() == "local":
        return "local"
    example = "expected local or redis://HOST:PORT/DB"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise JobError(f"{field}: {example} (the port must be a number from 1 to 65535)") from None
    shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else excerpt(text)
    if parts.scheme not in _REDIS_SCHEMES or not parts.hostname:
        raise JobError(f"{field}: {example}, got {shown if parts.scheme else excerpt(text)}")
    options = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if (parts.username or parts.password or options & _CREDENTIALS) and not secrets_ok:
        raise JobError(
            f"{field}: {shown}: a Redis user or password must not be written in the job file; "
            f"give the whole URL in the environment variable {RATE_STORE_ENV} instead"
        )
    if parts.query:
        raise JobError(
            f"{field}: {shown}: options after the ? are not accepted (a password goes before "
            "the host: redis://:PASSWORD@HOST:PORT/DB)"
        )
    db = parts.path.lstrip("/")
    if (db and not (db.isascii() and db.isdigit() and int(db) < 1_000_000)) or parts.fragment:
        raise JobError(f"{field}: {shown}: the database after the / must be a number like 0")
    if port == 0:
        raise JobError(f"{field}: {shown}: the port must be a number from 1 to 65535")
    try:
        import redis  # noqa: F401 - only to know it is there
    except ImportError:
        raise JobError(
            f"{field}: {shown}: a Redis budget needs the redis extra: pip install 'bulkops[redis]'"
        ) from None
    return text.strip()
