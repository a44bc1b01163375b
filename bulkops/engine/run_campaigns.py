"""The campaigns of one run: the ids it was given, or those a select job lists.

Given ids are a reviewed plan's (made with exclude applied) or the job's own
(``campaigns``, ``--campaigns-file``). A select job lists the account: alone,
its campaigns are those listed, exclude applied, and the listing stops once
more than ``run.max_deletes`` are chosen (the run will be refused); with given
ids, they are the given ones the listing still matches, so it must be whole.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from bulkops.engine.flows import flow_of
from bulkops.engine.observer import RunObserver
from bulkops.engine.selection import Unfiltered, resolve
from bulkops.ids import shown
from bulkops.job.campaign_set import CampaignSet, campaign_set
from bulkops.model import Answer, Job
from bulkops.text import plural


@dataclass(frozen=True)
class RunCampaigns:
    ids: tuple[str, ...]
    excluded: tuple[str, ...]  # what exclude removed
    listed: dict[str, dict[str, object]] | None = None  # a select job's list items, by id
    listed_at: float = 0.0  # when the listing that found them began (monotonic)
    listing_stopped: bool = False  # over run.max_deletes: the listing stopped there


async def run_campaigns(
    job: Job, plan_ids: Sequence[str] | None, *, done: int,
    fetch_page: Callable[[dict[str, object]], Awaitable[Answer]], observer: RunObserver,
) -> RunCampaigns:  # fmt: skip
    """The campaigns of this run; ``done``: how many earlier runs settled (resume skips
    them, so they do not count towards ``run.max_deletes``). ApiError if a list call fails."""
    given = _given(job, plan_ids)
    if job.select is None:
        return RunCampaigns(given, job.removed_by_exclude)
    started = time.monotonic()
    unfiltered = Unfiltered(observer.warn)
    has_given = plan_ids is not None or bool(job.campaign_ids)
    deletes = flow_of(job).deletes and not has_given
    cap = job.run.max_deletes + len(job.exclude) + done
    listed, pages = await resolve(
        fetch_page, job.select, campaign_type=job.target.campaign_type,
        now=datetime.now(timezone.utc), on_invalid=lambda i, why: _invalid(observer, i, why),
        on_unfiltered=unfiltered.add, cap=cap if deletes else None,
    )  # fmt: skip
    unfiltered.say()
    ids = [c.id for c in listed]
    # over the cap: the listing stopped there, so an exclude id matching none listed may
    # match one never listed
    over = deletes and len(ids) > cap
    if has_given:  # an empty plan chooses none
        among = "the plan" if plan_ids is not None else "--campaigns-file"
        chosen = _said(observer, "select", campaign_set(
            given, frozenset(), among=among, empty_warning=False, matching=frozenset(ids),
        ))  # fmt: skip
        excluded = job.removed_by_exclude
    else:
        chosen = _said(observer, "exclude", campaign_set(
            ids, job.exclude, among="the selected campaigns", empty_warning=False,
            complete=not over,
        ))  # fmt: skip
        excluded = chosen.excluded
    observer.info(
        "selected", f"selected {'at least ' * over}{plural(len(chosen.ids), 'campaign')} with "
        f"{plural(pages, 'list call')}{' (listing stopped: over run.max_deletes)' * over} "
        f"in {time.monotonic() - started:.2f}s", selected=len(chosen.ids), list_calls=pages,
    )  # fmt: skip
    items = {c.id: c.data for c in listed}
    return RunCampaigns(
        chosen.ids, excluded, {i: items[i] for i in chosen.ids}, started, listing_stopped=over
    )


def _given(job: Job, plan_ids: Sequence[str] | None) -> tuple[str, ...]:
    """The ids the run was given, exclude applied: a plan's, or the job's."""
    if plan_ids is not None:  # the plan was made with exclude applied
        return campaign_set(plan_ids, job.exclude, among="").ids
    return tuple(job.campaign_ids)


def _said(observer: RunObserver, event: str, chosen: CampaignSet) -> CampaignSet:
    for warning in chosen.warnings:
        observer.warn(event, warning)
    return chosen


def _invalid(observer: RunObserver, campaign_id: str, problem: str) -> None:
    observer.warn(
        "invalid_id", f"the list call returned campaign id {shown(campaign_id)}, which "
        f"{problem}: it is not a campaign id bulkops can address; skipped, never sent",
    )  # fmt: skip
