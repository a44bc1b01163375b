"""The retry policy: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aioresponses import aioresponses

from bulkops.engine.retry import RetryPolicy
from bulkops.errors import NotFound, PermanentError, RetryableError
from bulkops.kore.client import KoreClient
from bulkops.kore.tokens import StaticToken
from bulkops.model import RunSettings

SETTINGS = RunSettings(max_attempts=4, backoff_initial=0.5, backoff_max=3.0, max_retry_after=10)


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def run_against(
    mocked_statuses: list[tuple[int, dict[str, str]]],
) -> tuple[Sleeps, int, Exception | None]:
    sleeps = Sleeps()
    with aioresponses() as mocked:
        for status, headers in mocked_statuses:
            mocked.delete(
                re.compile(r".*"), status=status, headers=headers, payload={"message": "m"}
            )
        async with aiohttp.ClientSession() as session:
            client = KoreClient(
                session, host="https://kore.example", app_id="st-a", account_id="acc",
                campaign_type="voice", tokens=StaticToken("t"), timeout=1,
            )  # fmt: skip
            error: Exception | None = None
            try:
                await RetryPolicy(SETTINGS, sleep=sleeps).call(lambda: client.delete("cd-1"))
            except Exception as exc:  # noqa: BLE001 - the test inspects it
                error = exc
            calls = sum(len(v) for v in mocked.requests.values())
    return sleeps, calls, error


async def test_backoff_grows_with_jitter_between_initial_and_max() -> None:
    sleeps, calls, error = await run_against([(503, {})] * 4)
    assert calls == 4 and isinstance(error, RetryableError)
    assert len(sleeps) == 3
    assert sleeps[0] == pytest.approx(0.5)
    assert 0.5 <= sleeps[1] <= 1.0 and 0.5 <= sleeps[2] <= 2.0
    assert all(s <= SETTINGS.backoff_max for s in sleeps)


async def test_retry_after_is_honoured_and_capped() -> None:
    sleeps, calls, error = await run_against(
        [(429, {"Retry-After": "2"}), (429, {"Retry-After": "99"}), (200, {})]
    )
    assert error is None and calls == 3
    assert sleeps == [2.0, 10.0]


@pytest.mark.parametrize(
    ("status", "kind"), [(404, NotFound), (400, PermanentError), (422, PermanentError)]
)
async def test_permanent_answers_are_not_retried(status: int, kind: type) -> None:
    sleeps, calls, error = await run_against([(status, {})] * 2)
    assert calls == 1 and sleeps == [] and isinstance(error, kind)


def test_a_refusal_without_retry_after_waits_a_window_of_the_tightest_spec() -> None:
    from bulkops.engine.retry import refusal_wait
    from bulkops.model import RateSpec

    per_min, per_hour = RateSpec(60, 60.0), RateSpec(1800, 3600.0)
    assert refusal_wait(RunSettings(rates=(per_hour, per_min), max_retry_after=300)) == 60
    assert refusal_wait(RunSettings(rates=(RateSpec(5, 2.0), RateSpec(5, 1.0)))) == 2
    assert refusal_wait(RunSettings(rates=(), max_retry_after=300)) == 60
    assert refusal_wait(RunSettings(rates=(per_min,), max_retry_after=2)) == 2
