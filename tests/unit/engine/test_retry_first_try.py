"""The retry policy decides from the first try's failure on as if its loop had made it."""

from __future__ import annotations

import pytest

from bulkops.engine.retry import RetryPolicy
from bulkops.errors import PermanentError, RetryableError
from bulkops.model import RunSettings

SETTINGS = RunSettings(max_attempts=3, backoff_initial=0.5, backoff_max=3.0, max_retry_after=10)


class Tries:
    """An attempt that raises its ``errors`` in turn, then answers ``"ok"``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def test_a_first_try_that_succeeds_is_the_only_one() -> None:
    tries, sleeps = Tries(), Sleeps()
    assert await RetryPolicy(SETTINGS, sleep=sleeps).call(tries) == "ok"
    assert tries.calls == 1 and sleeps == []


async def test_the_first_failure_is_waited_out_as_its_retry_after_says() -> None:
    tries, sleeps = Tries(RetryableError("HTTP 503", retry_after=2.0)), Sleeps()
    assert await RetryPolicy(SETTINGS, sleep=sleeps).call(tries) == "ok"
    assert tries.calls == 2 and sleeps == [2.0]


async def test_the_first_try_counts_towards_max_attempts() -> None:
    last = RetryableError("HTTP 503 (third)")
    tries, sleeps = Tries(RetryableError("HTTP 503"), RetryableError("HTTP 502"), last), Sleeps()
    with pytest.raises(RetryableError) as raised:
        await RetryPolicy(SETTINGS, sleep=sleeps).call(tries)
    assert raised.value is last
    assert tries.calls == 3 and len(sleeps) == 2
    assert sleeps[0] == pytest.approx(0.5) and 0.5 <= sleeps[1] <= 1.0


async def test_a_first_failure_that_is_not_retried_is_raised_at_once() -> None:
    tries, sleeps = Tries(PermanentError("HTTP 400")), Sleeps()
    with pytest.raises(PermanentError):
        await RetryPolicy(SETTINGS, sleep=sleeps).call(tries)
    assert tries.calls == 1 and sleeps == []


async def test_a_retry_that_is_not_retried_is_raised_as_it_is() -> None:
    tries, sleeps = Tries(RetryableError("HTTP 503"), PermanentError("HTTP 400")), Sleeps()
    with pytest.raises(PermanentError, match="HTTP 400"):
        await RetryPolicy(SETTINGS, sleep=sleeps).call(tries)
    assert tries.calls == 2 and sleeps == [pytest.approx(0.5)]
