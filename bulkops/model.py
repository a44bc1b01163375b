"""The job model: frozen values that job.py builds and validates once, and everything
downstream trusts. Constructing one directly skips validation: only tests do that."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bulkops.ratelimit import RateSpec


class Secret:
    """A credential that never shows itself in repr(), str() or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Target:
    host: str  # scheme://host[:port], no trailing slash
    app_id: str
    account_id: str
    campaign_type: str = "voice"


@dataclass(frozen=True)
class Auth:
    """Either a client secret to mint JWTs with, or a pre-made token."""

    client_id: str  # "" when a pre-made token is given without one
    client_secret: Secret | None
    token: Secret | None = None
    subject: str = "bulkops"
    token_ttl: float = 300.0
    secret_source: str = ""  # where the secret came from, for people: "environment variable X"


@dataclass(frozen=True)
class CreatedBefore:
    """An absolute instant, or an age measured back from the run's start."""

    instant: datetime | None = None  # timezone-aware UTC
    age: timedelta | None = None
    text: str = ""

    def resolve(self, now: datetime) -> datetime:
        if self.instant is not None:
            return self.instant
        assert self.age is not None
        return now - self.age


@dataclass(frozen=True)
class Selection:
    status: tuple[str, ...] = ()
    dialing_mode: tuple[str, ...] = ()
    priority: tuple[int, ...] = ()
    name: str | None = None  # glob, matched case-insensitively
    created_before: CreatedBefore | None = None


DEFAULT_RATES = (RateSpec(60, 60.0, "60/min"), RateSpec(1800, 3600.0, "1800/hour"))


@dataclass(frozen=True)
class RunSettings:
    concurrency: int = 8
    rates: tuple[RateSpec, ...] = DEFAULT_RATES  # () = no rate limit
    rate_margin: float = 0.05
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    timeout: float = 30.0
    max_retry_after: float = 300.0
    max_deletes: int = 1000
    halt_after_failures: int = 0
    dry_run: bool = False


@dataclass(frozen=True)
class Job:
    version: int
    name: str
    target: Target
    auth: Auth
    campaign_ids: tuple[str, ...]  # campaigns + campaigns_file, de-duplicated, exclude applied
    select: Selection | None
    exclude: frozenset[str]
    run: RunSettings
    audit_log: Path
    path: Path
    sha256: str  # of the job file's bytes: plans are bound to it
    warnings: tuple[str, ...] = field(default=())
