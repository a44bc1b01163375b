"""Plain immutable values shared by the layers.

The job model (``Job`` and its parts) is built and validated once by
``bulkops.job``; everything downstream trusts it. Constructing one directly
skips validation: only tests do that. The rest are what a run produces: an
``Answer`` from the API, one ``Outcome`` per campaign, and the ``RunResult``.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# The audit log's vocabulary (README, "What a run does").
OUTCOMES = ("deleted", "not_found", "failed", "would_delete", "protected")  # of a campaign line
COUNT_KEYS = (*OUTCOMES[:4], "skipped", "pending", "protected")  # of run_finished.counts
DONE_OUTCOMES = frozenset({"deleted", "not_found"})  # what resume skips
REASONS = ("completed", "interrupted", "aborted", "halted")  # of run_finished.reason
# The restore log's vocabulary (README "Undo a cleanup").
RESTORE_OUTCOMES = ("restored", "would_restore", "exists", "failed")  # of a campaign line
RESTORE_COUNT_KEYS = (*RESTORE_OUTCOMES, "skipped", "pending")  # of restore_finished.counts
RESTORED_OUTCOMES = frozenset({"restored", "exists"})  # what restoring again skips


@dataclass(frozen=True)
class RateSpec:
    """At most ``count`` requests started in any ``window`` seconds."""

    count: int
    window: float
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.count}/{self.window:g}s"


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
    api: str = "v1"  # which documented path family: v1 or v2


@dataclass(frozen=True)
class Wordings:
    """The job's own server wordings (``answers:``), case-insensitive globs on a message.

    They add to the built-in ones (``bulkops.kore.wordings``), never replace them.
    """

    not_found: tuple[str, ...] = ()
    rate_limited: tuple[str, ...] = ()


BUILT_IN_ONLY = Wordings()  # a job without ``answers:``


@dataclass(frozen=True)
class RestoreDefaults:
    """The job's ``restore:`` section: what a Create body needs that a deleted campaign's
    snapshot may lack (the delete answer carries neither a queue nor a flow name)."""

    queue_name: str | None = None  # Progressive and Preview campaigns
    experience_flow_name: str | None = None  # Agentless campaigns
    dnc_list: str | None = None  # api: v2 only


NO_RESTORE_DEFAULTS = RestoreDefaults()  # a job without ``restore:``


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


# The campaign statuses Kore.ai documents (README, "Statuses"): the only ones a job may name,
# and the only ones bulkops reads from an answer; any other status is one it cannot classify
STATUSES = (
    *("Active", "Completed", "Ready", "Paused"),
    *("Preparing", "Stopped", "Scheduled", "Rescheduled"),
)


@dataclass(frozen=True)
class Selection:
    status: tuple[str, ...] = ()
    dialing_mode: tuple[str, ...] = ()
    priority: tuple[int, ...] = ()
    name: str | None = None  # glob, matched case-insensitively
    created_before: CreatedBefore | None = None


# Kore.ai's published limit for Campaign Management APIs, counted per account
DEFAULT_RATES = (RateSpec(60, 60.0, "60/min"),)


@dataclass(frozen=True)
class RunSettings:
    concurrency: int = 8
    rates: tuple[RateSpec, ...] = DEFAULT_RATES  # () = no rate limit
    rate_margin: float = 0.0  # seconds each slot is held past W after its answer
    rate_store: str = "local"  # where the account's budget is kept: local or redis://...
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    timeout: float = 30.0
    max_retry_after: float = 300.0
    max_deletes: int = 1000
    halt_after_failures: int = 0
    dry_run: bool = False
    protect_status: tuple[str, ...] = ("Active",)  # campaigns in these statuses are never deleted
    stop_before_delete: bool = False  # stop an Active campaign (Kore.ai's Stop call) first
    status_max_age: float = 300.0  # seconds: no protection decision rests on an older status


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
    warnings: tuple[str, ...] = field(default=())  # every warning about the job, ...
    campaign_warnings: tuple[str, ...] = ()  # ... of which these are about its campaign ids
    removed_by_exclude: tuple[str, ...] = ()  # ids of campaigns/campaigns_file ``exclude`` took out
    answers: Wordings = BUILT_IN_ONLY
    restore: RestoreDefaults = NO_RESTORE_DEFAULTS


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx answer: its status, the server's ``message`` and ``data`` (either may be None)."""

    status: int
    message: str | None
    data: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Created:
    """A Create's 2xx answer; ``new_id`` is the new campaign's id as the answer gives it
    (``data._id``, ``data.campId``, ``data.id``, else a top-level ``id``/``_id``), or None."""

    status: int
    message: str | None
    data: dict[str, Any] | None
    new_id: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The one outcome of one campaign in this run: its audit ``campaign`` line, with what
    the run saw of it ``before`` and whether it ``stopped`` it, which the run adds."""

    campaign_id: str
    outcome: str  # one of OUTCOMES
    http_status: int | None
    attempts: int
    duration_ms: int
    message: str | None
    error: str | None
    campaign: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    """The one outcome of one deleted campaign in a restore (a restore log ``campaign`` line)."""

    campaign_id: str  # the old id, as the audit log recorded it deleted
    new_id: str | None  # the campaign made (or found under the same name), if known
    outcome: str  # one of RESTORE_OUTCOMES
    http_status: int | None
    message: str | None
    error: str | None
    body: dict[str, Any] | None  # what was or would be sent


EXIT_BY_SIGNAL = {signal.SIGHUP: 129, signal.SIGINT: 130, signal.SIGTERM: 143}


def exit_code_for(reason: str, failed: int, signum: int | None = None) -> int:
    """The exit code (README, "Exit codes") of a run that ended for ``reason`` with ``failed``
    campaigns."""
    if reason == "interrupted":
        return EXIT_BY_SIGNAL.get(signal.Signals(signum or signal.SIGINT), 130)
    if reason in ("aborted", "halted"):
        return 3
    return 1 if failed else 0


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


@dataclass(frozen=True)
class RunResult:
    """What one run of a job did, as the CLI, the summary file and the metrics show it.

    ``counts`` always add up to ``total``. A run refused before it started
    (bad job, lock held, declined) has ``total`` 0 and no times of its own.
    """

    run_id: str
    job: str
    dry_run: bool
    audit_log: str
    total: int = 0
    counts: Mapping[str, int] = field(default_factory=zero_counts)
    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    exit_code: int = 0
    reason: str = "completed"
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    list_calls: int = 0
    error: str | None = None  # why the run stopped early, for people
    error_field: str | None = None  # the job field to check about ``error``, if one is known
    error_campaign: str | None = None  # the campaign whose request met ``error``
    previews: tuple[dict[str, Any], ...] = ()  # dry run: the would_delete rows
    protected: tuple[dict[str, Any], ...] = ()  # rows of the campaigns protect_status kept
    not_found: tuple[str, ...] = ()  # ids that turned out not to exist
    excluded: tuple[str, ...] = ()  # ids the job's ``exclude`` took out of this run
