"""Guards for live campaigns: protected statuses, and the Stop call before a delete.

Kore.ai's delete call deletes an *active* campaign without a word. A campaign
whose status is in ``run.protect_status`` (default ``[Active]``) is never
deleted: it ends ``protected``. With ``stop_before_delete`` (and Active not
protected) an Active campaign is stopped through the Stop call first; the
stop is a request like any other (admitted by the limiter, retried).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from bulkops.errors import ApiError, AuthError, NotFound, PermanentError
from bulkops.kore.client import KoreClient
from bulkops.model import Answer, Outcome, RunSettings

Request = Callable[[Callable[[], Awaitable[Answer]]], Awaitable[Answer]]


def guarded_statuses(run: RunSettings) -> tuple[str, ...]:
    """The statuses a real run must know of its campaigns before deleting any."""
    extra = ("Active",) if run.stop_before_delete and "Active" not in run.protect_status else ()
    return (*run.protect_status, *extra)


def status_of(item: dict[str, Any] | None) -> str | None:
    status = (item or {}).get("status")
    return status if isinstance(status, str) else None


def known_outcome(
    campaign_id: str, item: dict[str, Any] | None, protect: tuple[str, ...]
) -> Outcome:
    """The outcome of a campaign settled from what a list answer said, without a request of its
    own (``attempts`` 0): ``protected``, else ``would_delete`` (only a preview asks for that),
    or, when ``item`` is None (a complete listing does not hold it), ``not_found``."""
    if item is None:
        return Outcome(campaign_id, "not_found", None, 0, 0, None, None, None)
    name = "protected" if status_of(item) in protect else "would_delete"
    return Outcome(campaign_id, name, None, 0, 0, None, None, item)


def protect_answered(outcome: Outcome, protect: tuple[str, ...]) -> Outcome:
    """A preview GET whose answer shows a protected status ends ``protected``, not would_delete."""
    if outcome.outcome == "would_delete" and status_of(outcome.campaign) in protect:
        return dataclasses.replace(outcome, outcome="protected")
    return outcome


class StopFirst:
    """The worker pool's campaign calls: DELETE, preceded by the Stop call for the campaigns in
    ``to_stop``. ``request`` (the pool's, set once the pool exists) sends the Stop call under the
    limiter and the retry policy."""

    def __init__(self, client: KoreClient) -> None:
        self.client = client
        self.to_stop: set[str] = set()
        self.request: Request | None = None

    async def get(self, campaign_id: str) -> Answer:
        return await self.client.get(campaign_id)

    async def delete(self, campaign_id: str) -> Answer:
        if campaign_id in self.to_stop:
            await self._stop(campaign_id)
        return await self.client.delete(campaign_id)

    async def _stop(self, campaign_id: str) -> None:
        assert self.request is not None
        try:
            await self.request(lambda: self.client.stop(campaign_id))
        except (AuthError, NotFound):
            raise  # the run aborts / the campaign is already gone
        except ApiError as exc:  # not retried again by the delete's own retries
            raise PermanentError(
                f"not deleted: the Stop call before it failed: {exc.explanation}",
                status=exc.status, message=exc.message, data=exc.data,
            ) from exc  # fmt: skip
        self.to_stop.discard(campaign_id)  # a retried delete does not stop it again
