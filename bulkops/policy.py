"""The retry policy, built from the job's run settings on tenacity."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from tenacity.wait import wait_base

from bulkops.errors import RetryableError
from bulkops.job import RunSettings


class wait_retry_after(wait_base):  # noqa: N801 - named like tenacity's own waits
    """The server's Retry-After (capped at ``cap``) when it sent one, else ``fallback``."""

    def __init__(self, fallback: wait_base, cap: float) -> None:
        self._fallback = fallback
        self._cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return min(exc.retry_after, self._cap)
        return self._fallback(retry_state)


def backoff(settings: RunSettings) -> wait_base:
    """Full-jitter exponential backoff from backoff_initial up to backoff_max."""
    return wait_random_exponential(
        multiplier=settings.backoff_initial,
        min=settings.backoff_initial,
        max=settings.backoff_max,
    )


def build_retrying(
    settings: RunSettings,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncRetrying:
    """Retries RetryableError only, at most max_attempts tries, then re-raises the last error.

    ``sleep`` is injectable: tests pass a fake, the runner one that wakes on interrupt.
    """
    return AsyncRetrying(
        stop=stop_after_attempt(settings.max_attempts),
        wait=wait_retry_after(backoff(settings), settings.max_retry_after),
        retry=retry_if_exception_type(RetryableError),
        sleep=sleep,
        reraise=True,
    )
