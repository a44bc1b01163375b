"""What a restore reads back: which campaigns were deleted, and what earlier restores did.

``read_deleted`` streams the audit log for the ``deleted`` campaign lines of real
runs against the job's target (host and app id), with their snapshots
(``before`` and ``campaign``): by default those of the latest run that deleted
any; with ``run_id`` those of that run; with ``ids`` the latest ``deleted``
line of each of those old ids (within ``run_id`` when both are given).

``read_restore_state`` streams the restore log for what real restores against
the same target settled: old ids already ``restored`` or ``exists`` (never
created again), and old ids whose ``sent`` Create has no ``campaign`` line after
it (the restore stopped between the Create and its record: the campaign may
exist, so it is looked up by name before anything is sent for it again).

Bad lines are collected as ``BadLine`` problems, never raised, as ``history`` does.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkops.model import RESTORED_OUTCOMES
from bulkops.records.history import BadLine, iter_records


@dataclass(frozen=True)
class DeletedCampaign:
    """One campaign an audit log recorded ``deleted``, and what it kept of it."""

    campaign_id: str
    run_id: str
    ts: str | None
    before: dict[str, Any] | None  # as bulkops last listed or fetched it before the delete
    campaign: dict[str, Any] | None  # the delete answer's ``data``


@dataclass
class DeletedSet:
    """The deleted campaigns a restore would bring back, and the runs it saw."""

    campaigns: dict[str, DeletedCampaign] = field(default_factory=dict)  # by old id, log order
    real_runs: list[str] = field(default_factory=list)  # every real run against the target
    problems: list[BadLine] = field(default_factory=list)

    @property
    def runs(self) -> list[str]:
        """The runs the campaigns come from, in log order."""
        return list(dict.fromkeys(c.run_id for c in self.campaigns.values()))


@dataclass(frozen=True)
class Restored:
    outcome: str  # restored or exists
    new_id: str | None


@dataclass
class RestoreState:
    """What earlier real restores against the target settled."""

    done: dict[str, Restored] = field(default_factory=dict)  # old id -> how it came back
    in_flight: dict[str, str | None] = field(default_factory=dict)  # old id -> name sent
    last_sent: str | None = None  # ``ts`` of the latest sent line of a real restore
    problems: list[BadLine] = field(default_factory=list)
    torn_tail: bool = False


def read_deleted(
    audit_log: Path,
    host: str,
    app_id: str,
    *,
    run_id: str | None = None,
    ids: Collection[str] | None = None,
) -> DeletedSet:
    """The ``deleted`` lines a restore works from (see the module docstring)."""
    reader = _DeletedReader((host, app_id), run_id, None if ids is None else set(ids))
    if audit_log.exists():
        for _, item in iter_records(audit_log):
            reader.feed(item)
    return reader.result


class _DeletedReader:
    def __init__(self, target: tuple[str, str], run_id: str | None, ids: set[str] | None) -> None:
        self.target = target
        self.run_id = run_id
        self.ids = ids
        self.result = DeletedSet()
        self.order: dict[str, int] = {}  # real run against the target -> its rank in the log
        self.collecting: str | None = None  # by default, the latest run seen deleting

    def feed(self, item: dict[str, Any] | BadLine) -> None:
        if isinstance(item, BadLine):
            self.result.problems.append(item)
            return
        run = item.get("run_id")
        if item.get("event") == "run_started":
            real = _targets(item, self.target) and not item.get("dry_run")
            if real and isinstance(run, str) and run not in self.order:
                self.order[run] = len(self.order)
                self.result.real_runs.append(run)
            return
        cid = item.get("campaign_id")
        if (
            item.get("event") != "campaign"
            or item.get("outcome") != "deleted"
            or run not in self.order
            or not isinstance(cid, str)
            or (self.run_id is not None and run != self.run_id)
            or (self.ids is not None and cid not in self.ids)
        ):
            return
        assert isinstance(run, str)
        if self.run_id is None and self.ids is None and not self._latest(run):
            return
        self.result.campaigns.pop(cid, None)  # a later delete of the same id is the one kept
        self.result.campaigns[cid] = DeletedCampaign(
            cid,
            run,
            _text(item.get("ts")),
            _object(item.get("before")),
            _object(item.get("campaign")),
        )

    def _latest(self, run: str) -> bool:
        """Whether ``run`` is the latest run seen deleting; a later one starts afresh."""
        if self.collecting is not None and self.order[run] < self.order[self.collecting]:
            return False
        if run != self.collecting:
            self.collecting = run
            self.result.campaigns.clear()
        return True


def read_restore_state(restore_log: Path, host: str, app_id: str) -> RestoreState:
    """What earlier real restores against this target settled (see the module docstring)."""
    state = RestoreState()
    real: set[str] = set()
    if not restore_log.exists():
        return state
    for _, item in iter_records(restore_log):
        if isinstance(item, BadLine):
            state.problems.append(item)
            state.torn_tail = state.torn_tail or item.torn
            continue
        event, run, cid = item.get("event"), item.get("run_id"), item.get("campaign_id")
        if event == "restore_started":
            if _targets(item, (host, app_id)) and not item.get("dry_run") and isinstance(run, str):
                real.add(run)
        elif run in real and isinstance(cid, str):
            _settle(state, event, cid, item)
    for cid in state.done:
        state.in_flight.pop(cid, None)
    return state


def _settle(state: RestoreState, event: Any, cid: str, item: dict[str, Any]) -> None:
    if event == "sent":
        state.in_flight[cid] = _text(item.get("name"))
        state.last_sent = _text(item.get("ts")) or state.last_sent
    elif event == "campaign":
        state.in_flight.pop(cid, None)  # answered and recorded, whatever the outcome
        if item.get("outcome") in RESTORED_OUTCOMES:
            state.done[cid] = Restored(str(item["outcome"]), _text(item.get("new_id")))


def _targets(started: dict[str, Any], target: tuple[str, str]) -> bool:
    where = started.get("target")
    return isinstance(where, dict) and (where.get("host"), where.get("app_id")) == target


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _object(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None
