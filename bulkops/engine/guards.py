"""Guards for live campaigns: protected statuses, and the Stop call before a delete.

Kore.ai's delete call deletes an *active* campaign without a word. A campaign
whose status is in ``run.protect_status`` (default ``[Active]``) is never
deleted: it ends ``protected``. Statuses are read trimmed and in any case; one
bulkops cannot read (missing, not a string, none of the documented
``STATUSES``) is protected whenever anything is: what cannot be classified is
never permission to delete. With ``stop_before_delete`` (and Active not
protected) an Active campaign is stopped through the Stop call first; the
Stop call is a request like any other (its own rate slot, its own retries),
answered before the DELETE is sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from bulkops.errors import ApiError, AuthError, PermanentError
from bulkops.kore.client import KoreClient
from bulkops.model import STATUSES, Answer, Outcome, RunSettings

Request = Callable[[Callable[[], Awaitable[Answer]]], Awaitable[Answer]]  # WorkerPool.request


def guarded_statuses(run: RunSettings) -> tuple[str, ...]:
    """The statuses a real run must know of its campaigns before deleting any."""
    extra = ("Active",) if run.stop_before_delete and "Active" not in run.protect_status else ()
    return (*run.protect_status, *extra)


_DOCUMENTED = {status.lower(): status for status in STATUSES}


def status_of(item: dict[str, Any] | None) -> str | None:
    """The campaign's status as one of ``STATUSES`` (trimmed, any case); None if unreadable."""
    status = (item or {}).get("status")
    return _DOCUMENTED.get(status.strip().lower()) if isinstance(status, str) else None


def protects(item: dict[str, Any] | None, protect: tuple[str, ...]) -> bool:
    """Whether ``protect`` keeps the campaign this item shows: its status is protected, or
    it cannot be read while anything is protected."""
    if not protect:
        return False
    status = status_of(item)
    return status is None or status in protect


def known_outcome(
    campaign_id: str, item: dict[str, Any] | None, protect: tuple[str, ...]
) -> Outcome:
    """The outcome of a campaign settled from what a list answer said, without a request of its
    own (``attempts`` 0): ``protected``, else ``would_delete`` (only a preview asks for that),
    or, when ``item`` is None (a complete listing does not hold it), ``not_found``."""
    if item is None:
        return Outcome(campaign_id, "not_found", None, 0, 0, None, None, None)
    name = "protected" if protects(item, protect) else "would_delete"
    return Outcome(campaign_id, name, None, 0, 0, None, None, item)


def protect_answered(outcome: Outcome, protect: tuple[str, ...]) -> Outcome:
    """A preview GET whose answer shows a protected status ends ``protected``, not would_delete."""
    if outcome.outcome == "would_delete" and protects(outcome.campaign, protect):
        return dataclasses.replace(outcome, outcome="protected")
    return outcome


def stop_call(
    client: KoreClient, on_stopped: Callable[[str], None] = lambda campaign_id: None
) -> Callable[[str, Request], Awaitable[None]]:
    """The Stop call sent before a campaign's DELETE: a request of its own, through the
    pool's ``request`` (its own rate slot, its own retries), answered before the DELETE is
    sent; ``on_stopped`` hears of each campaign it stopped. What ends the campaign is raised:
    AuthError (the run aborts), PermanentError (any other answer that is not a success: not
    deleted, ``failed``, so the next run tries again). A Stop answered "not found" is such a
    failure too: only a DELETE's not-found answer means the campaign is gone (a gateway
    without the Stop route answers 404 for every campaign)."""

    async def stop(campaign_id: str, request: Request) -> None:
        try:
            await request(lambda: client.stop(campaign_id))
        except AuthError:
            raise
        except ApiError as exc:
            raise PermanentError(
                f"not deleted: the Stop call before it failed: {exc.explanation}",
                status=exc.status, message=exc.message, data=exc.data,
            ) from exc  # fmt: skip
        on_stopped(campaign_id)

    return stop
