"""One place builds what a run sends with: session, client, limiter, pool.

``run`` and ``list`` (and any command that talks to the target) get the same
machinery from ``machinery()``: the client with the job's ``api`` path family,
its wordings and where its secret came from; the limiter with the account's
shared budget store (``run.rate_store``) and the audit log's recent requests
preloaded, so that a command started right after a run does not spend the
server's window twice; and the worker pool that every request goes through.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bulkops.engine.ending import RunEnding
from bulkops.engine.pool import WorkerPool
from bulkops.errors import ApiError, JobError, RetryableError
from bulkops.kore.client import KoreClient, open_session
from bulkops.kore.tokens import JwtMinter, token_source
from bulkops.model import Job, Outcome
from bulkops.ratelimit.budget import open_store
from bulkops.ratelimit.limiter import SlotLimiter
from bulkops.records.history import History, read_history

Warn = Callable[[str, str], None]  # (event, message)
FUTURE_SLACK = 2.0  # seconds a recorded time may lie ahead of our clock (its rounding, skew)


@dataclass(frozen=True)
class Machinery:
    client: KoreClient
    limiter: SlotLimiter
    pool: WorkerPool


def history_of(job: Job) -> History:
    """What the job's audit log says about its target; JobError if it cannot be read."""
    keep = max((spec.count for spec in job.run.rates), default=0)
    try:
        return read_history(job.audit_log, job.target.host, job.target.app_id, keep_answers=keep)
    except OSError as exc:
        raise JobError(f"audit log {job.audit_log}: cannot read it: {exc.strerror}") from exc


@asynccontextmanager
async def machinery(
    job: Job,
    ending: RunEnding,
    history: History,
    warn: Warn,
    *,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    before_send: Callable[[str], None] = lambda campaign_id: None,
    on_rate_limited: Callable[[RetryableError], None] = lambda exc: None,
) -> AsyncIterator[Machinery]:
    """The run's machinery, open for the ``async with`` block; the limiter is closed after."""
    run, target = job.run, job.target
    store = open_store(run, target) if run.rates else None
    limiter = SlotLimiter(run.rates, margin=run.rate_margin, store=store)
    _preload(limiter, job, history, warn)
    tokens = token_source(job.auth)
    if isinstance(tokens, JwtMinter) and tokens.short_key:
        warn("short_secret", "the client secret is shorter than 32 bytes")
    async with open_session(run.concurrency) as session:
        client = KoreClient(
            session, host=target.host, app_id=target.app_id, account_id=target.account_id,
            campaign_type=target.campaign_type, tokens=tokens, timeout=run.timeout,
            api=target.api, wordings=job.answers, secret_source=job.auth.secret_source,
        )  # fmt: skip
        pool = WorkerPool(
            settings=run, limiter=limiter, ending=ending, on_outcome=on_outcome,
            before_send=before_send, on_rate_limited=on_rate_limited,
        )  # fmt: skip
        try:
            yield Machinery(client, limiter, pool)
        finally:
            try:
                await limiter.close()
            except ApiError as exc:  # the budget store went away: its slots lapse on their own
                if ending.end().error != exc.explanation:  # else the run's error says it
                    warn("rate_store", exc.explanation)


def _preload(limiter: SlotLimiter, job: Job, history: History, warn: Warn) -> None:
    """The server's windows still count the previous runs' requests: so must we. A time
    in the future (a clock set back, a hand edit) would stall the run: it is ignored."""
    now = time.time()
    # an unanswered request of a killed run arrived before it timed out, if at all
    unanswered = [min(now, t + job.run.timeout) for t in history.in_flight_sent]
    ages, ahead = answer_ages([*history.recent_answers, *unanswered], now)
    limiter.preload(ages)
    if ahead:
        warn(
            "audit_future_times", f"{job.audit_log}: {len(ahead)} request times lie "
            f"in the future (up to {max(ahead):.0f} s ahead: was the clock set back?); "
            "the rate limit ignores them",
        )  # fmt: skip


def answer_ages(answered: Sequence[float], now: float) -> tuple[list[float], list[float]]:
    """Recorded answer times (wall clock) as (seconds ago, for the budget; seconds ahead of
    ``now`` of those in the future, which are ignored)."""
    ages = [max(0.0, now - t) for t in answered if t <= now + FUTURE_SLACK]
    ahead = [t - now for t in answered if t > now + FUTURE_SLACK]
    return ages, ahead
