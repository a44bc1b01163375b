"""One campaign's tries and how long it took, on a fake clock."""

from __future__ import annotations

from bulkops.engine.attempt import Attempt


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_duration_runs_from_the_first_try_and_counts_every_try() -> None:
    clock = FakeClock()
    attempt = Attempt("cd-1", clock)
    attempt.begin()
    clock.now += 0.25  # the first try, then a backoff
    attempt.begin()
    clock.now += 0.5
    attempt.begin()
    clock.now += 0.125
    outcome = attempt.outcome("deleted", 200, message="Campaign deleted", campaign={"_id": "cd-1"})
    assert (outcome.campaign_id, outcome.outcome, outcome.http_status) == ("cd-1", "deleted", 200)
    assert outcome.attempts == 3
    assert outcome.duration_ms == 875
    assert outcome.message == "Campaign deleted" and outcome.error is None
    assert outcome.campaign == {"_id": "cd-1"}


def test_an_outcome_before_any_try_took_no_time_and_no_attempts() -> None:
    clock = FakeClock()
    attempt = Attempt("cd-2", clock)
    clock.now += 9
    outcome = attempt.outcome("failed", None, error="stopped before sending")
    assert (outcome.attempts, outcome.duration_ms) == (0, 0)
    assert outcome.http_status is None and outcome.error == "stopped before sending"
