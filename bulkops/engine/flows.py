"""A run's two flows, told apart once: a preview, and a delete.

Everything that differs between them is here, decided from the job's
``run.dry_run`` in one place: what the pool sends (a GET, or a DELETE written
ahead with the Stop call first where ``stop_before_delete`` asks), what a 2xx
answer is called, what the run learns first, whether the person confirms and
whether ``max_deletes`` refuses. The rest of the engine asks the flow (a restore,
which has no delete flow, asks ``for_real``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bulkops.engine.guards import Request, protect_answered, stop_call
from bulkops.engine.pool import Action
from bulkops.engine.prepare import FetchPage, GetOne, Prepared, Say, prepare_delete, prepare_preview
from bulkops.engine.watch import StatusWatch
from bulkops.kore.client import KoreClient
from bulkops.model import Job, Outcome


@dataclass(frozen=True)
class Flow:
    deletes: bool  # False: a preview, which sends nothing that changes anything
    verb: str  # "are" / "would be", for what the run says it does
    learning: str  # what the run learns first, for a message when that fails

    def action(
        self,
        client: KoreClient,
        job: Job,
        watch: StatusWatch | None,
        on_stopped: Callable[[str], None] = lambda campaign_id: None,
    ) -> Action:
        """What the pool sends for each campaign; a real run's ``watch`` decides right before
        each DELETE whether it goes (protected, or stopped first) on statuses fresh enough;
        ``on_stopped`` hears of each Stop done."""
        if not self.deletes:
            return Action(client.get, "would_delete", write_ahead=False)
        if watch is None:
            return Action(client.delete, "deleted", write_ahead=True)
        stop = stop_call(client, on_stopped) if job.run.stop_before_delete else None

        async def first(campaign_id: str, request: Request) -> Outcome | None:
            return await watch.decide(campaign_id, request, stop)

        return Action(client.delete, "deleted", write_ahead=True, first=first, stale=watch.stale)

    async def prepare(
        self,
        job: Job,
        todo: Sequence[str],
        listed: dict[str, dict[str, Any]] | None,
        *,
        fetch_page: FetchPage,
        get_one: GetOne,
        say: Say,
        listed_at: float,
    ) -> Prepared:
        if not self.deletes:
            return await prepare_preview(job, todo, listed, fetch_page=fetch_page, say=say)
        return await prepare_delete(
            job, todo, listed, fetch_page=fetch_page, get_one=get_one, say=say,
            listed_at=listed_at,
        )  # fmt: skip

    def outcome(self, outcome: Outcome, job: Job) -> Outcome:
        """A preview GET whose answer shows a protected status ends ``protected``."""
        return outcome if self.deletes else protect_answered(outcome, job.run.protect_status)


PREVIEW = Flow(deletes=False, verb="would be", learning="preview the campaigns")
DELETE = Flow(
    deletes=True, verb="are", learning="learn the campaigns' statuses (run.protect_status)"
)


def flow_of(job: Job) -> Flow:
    return DELETE if for_real(job) else PREVIEW


def for_real(job: Job) -> bool:
    """Whether the job's command acts (a run deletes, a restore creates) or only previews."""
    return not job.run.dry_run
