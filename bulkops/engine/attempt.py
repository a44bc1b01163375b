"""One campaign on its way to an outcome: how many tries so far, and since when."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bulkops.model import Outcome


@dataclass(slots=True)
class Attempt:
    """Counts the tries of one campaign and turns how it ended into its ``Outcome``.

    ``duration_ms`` runs from the first try's admission to the outcome, retries
    and their waits included.
    """

    campaign_id: str
    clock: Callable[[], float]
    tries: int = 0
    started: float | None = None

    def begin(self) -> None:
        """A try was admitted by the limiter and is about to be sent."""
        if self.started is None:
            self.started = self.clock()
        self.tries += 1

    def outcome(
        self,
        name: str,
        http_status: int | None,
        *,
        error: str | None = None,
        message: str | None = None,
        campaign: dict[str, Any] | None = None,
    ) -> Outcome:
        elapsed = 0.0 if self.started is None else self.clock() - self.started
        return Outcome(
            campaign_id=self.campaign_id,
            outcome=name,
            http_status=http_status,
            attempts=self.tries,
            duration_ms=round(elapsed * 1000),
            message=message,
            error=error,
            campaign=campaign,
        )
