"""The retry policy: tenacity's ``AsyncRetrying`` built from the job's run settings.

It retries ``RetryableError`` only (``retry``), at most ``max_attempts`` tries
(``stop``), waiting the server's Retry-After, a rate-limit refusal's window or a
jittered backoff (``wait``), and re-raises the last error when it gives up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Protocol, TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from bulkops.errors import RateLimited, RetryableError
from bulkops.model import RunSettings

T = TypeVar("T")


class Attempted(Protocol):
    """What a wait reads of the state tenacity passes it: how the last try ended."""

    @property
    def outcome(self) -> Future[object] | None: ...


# the state tenacity passes: whatever the fallback wait takes, as long as it has an outcome
S = TypeVar("S", bound=Attempted)


FALLBACK_WINDOW = 60.0  # seconds: Kore.ai's documented per-minute window, when no rate is set


def refusal_wait(settings: RunSettings) -> float:
    """How long a rate-limit refusal without Retry-After is waited out: one full window of
    the tightest rate spec, at most ``max_retry_after``.

    The tightest is the one that allows the fewest requests (the longer window on a
    tie): the first a burst runs into, 60/min in ``[60/min, 1800/hour]``.
    """
    rates = settings.rates
    tightest = min(rates, key=lambda s: (s.count, -s.window)) if rates else None
    return min(tightest.window if tightest else FALLBACK_WINDOW, settings.max_retry_after)


def wait_retry_after(
    fallback: Callable[[S], float], cap: float, refused: float | None = None
) -> Callable[[S], float]:
    """A wait for ``AsyncRetrying``: the server's Retry-After (capped at ``cap``) when it
    sent one; for a rate-limit refusal without one ``refused``; else ``fallback``."""

    def wait(retry_state: S) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return min(exc.retry_after, cap)
        if isinstance(exc, RateLimited) and refused is not None:
            return refused
        return fallback(retry_state)

    return wait


def backoff(settings: RunSettings) -> wait_base:
    """Full-jitter exponential backoff from backoff_initial up to backoff_max."""
    return wait_random_exponential(
        multiplier=settings.backoff_initial,
        min=settings.backoff_initial,
        max=settings.backoff_max,
    )


def gave_up(tries: int, last: str) -> str:
    """The error of a call whose tries ran out, ``last`` being the last one's."""
    return f"gave up after {tries} attempts; last: {last}"


class RetryPolicy:
    """Retries RetryableError only, at most max_attempts tries, then re-raises the last one.

    ``sleep`` is injectable: tests pass a fake, the worker pool one that wakes when the run stops.
    """

    def __init__(
        self,
        settings: RunSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.max_attempts),
            wait=wait_retry_after(
                backoff(settings), settings.max_retry_after, refusal_wait(settings)
            ),
            retry=retry_if_exception_type(RetryableError),
            sleep=sleep,
            reraise=True,
        )

    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()`` until it returns, raises what is not retried, or tries run out.

        The first try is made before the loop: it nearly always succeeds, and setting up
        tenacity's loop for it cost about a quarter of bulkops' CPU a request. When it
        fails with a RetryableError, ``AsyncRetrying`` starts with that failure as its first
        try, so every wait, every retry and giving up are decided as if it had made it.
        """
        try:
            return await attempt()
        except RetryableError as exc:
            first: RetryableError | None = exc

        async def once() -> T:
            nonlocal first
            if first is not None:
                failed, first = first, None
                raise failed
            return await attempt()

        # a copy a call, as tenacity's own decorator does: the loop keeps state on its object
        return await self._retrying.copy()(once)
