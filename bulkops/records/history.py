"""Reading the audit log back: every line streamed, and what earlier runs settled (resume).

A log may hold anything (a crash's torn line, a hand edit): every line is
checked where it is read, and a bad one becomes a ``BadLine``, never an error.
Numbers read back are bounded: an absurd ``attempts`` or ``duration_ms`` is
reported and its timing ignored, never multiplied into memory.

Before each DELETE a run writes a short ``sent`` line. A ``sent`` line with no
``campaign`` line of the same run after it is a request that was in flight
when that run stopped without recording the answer (killed, or its log could
not be written): ``History.in_flight`` lists those campaigns.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkops.model import DONE_OUTCOMES
from bulkops.utc import parse_utc

MAX_LINE_BYTES = 8 << 20  # a longer line is not a record of ours
MAX_ATTEMPTS_READ = 10_000  # more attempts at one campaign is not a record of ours
MAX_DURATION_MS = 7 * 24 * 3600 * 1000  # neither is a campaign that took over a week


@dataclass
class BadLine:
    lineno: int
    problem: str
    torn: bool = False  # the last line, cut off without its newline (a crash mid-write)


def iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    """Every line of an audit log, streamed: (line number, record or BadLine)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                yield (
                    lineno,
                    BadLine(lineno, "the last line is cut off (no newline): a crash?", torn=True),
                )
                return
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield lineno, BadLine(lineno, "line too long to be a record")
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                yield lineno, BadLine(lineno, "not JSON")
                continue
            if not isinstance(record, dict) or "event" not in record:
                yield lineno, BadLine(lineno, "not an audit record")
                continue
            yield lineno, record


@dataclass
class History:
    """What earlier runs against the same target settled (for resume)."""

    done: set[str] = field(default_factory=set)
    problems: list[BadLine] = field(default_factory=list)
    torn_tail: bool = False
    # wall-clock times (time.time()) of the latest requests to this target, oldest first
    recent_starts: list[float] = field(default_factory=list)
    # campaigns sent a DELETE by a run that stopped before recording the answer, not done since
    in_flight: list[str] = field(default_factory=list)
    # when those unanswered requests were sent (time.time()): they reached the server later,
    # if at all, at a moment no line tells
    in_flight_sent: list[float] = field(default_factory=list)


def read_history(path: Path, host: str, app_id: str, *, keep_starts: int = 0) -> History:
    """Campaigns whose latest non-dry-run outcome for this target is deleted/not_found,
    and when the last ``keep_starts`` requests to it (dry runs too) were sent."""
    history = History()
    if not path.exists():
        return history
    real_runs: set[str] = set()  # real runs against this target
    target_runs: set[str] = set()  # dry or real
    # only the timing fields: lines carry campaign snapshots, and keep_starts may be large
    latest: deque[dict[str, Any]] = deque(maxlen=keep_starts)
    sent: dict[tuple[str, str], Any] = {}  # (run, campaign) sent, not settled: its last ts
    for lineno, item in iter_records(path):
        if isinstance(item, BadLine):
            history.problems.append(item)
            history.torn_tail = history.torn_tail or item.torn
            continue
        event, run_id = item.get("event"), str(item.get("run_id"))
        if event == "run_started":
            target = item.get("target") or {}
            if isinstance(target, dict) and (target.get("host"), target.get("app_id")) == (
                host,
                app_id,
            ):
                target_runs.add(run_id)
                if not item.get("dry_run"):
                    real_runs.add(run_id)
            continue
        campaign_id = item.get("campaign_id")
        if run_id not in target_runs or not isinstance(campaign_id, str):
            continue
        # A request reached the server after its sent line and before the next line about
        # its campaign (a retry's sent line, or the outcome): that later time is the safe one.
        if event == "sent":
            if (run_id, campaign_id) in sent and keep_starts:
                latest.append({"ts": item.get("ts")})  # the previous attempt's
            sent[(run_id, campaign_id)] = item.get("ts")
        elif event == "campaign":
            _settle(history, item, run_id in real_runs)
            if (run_id, campaign_id) in sent:
                del sent[(run_id, campaign_id)]
                if keep_starts:
                    latest.append({"ts": item.get("ts")})
            elif keep_starts:
                if problem := timing_problem(item):
                    history.problems.append(BadLine(lineno, problem))
                else:
                    latest.append({k: item.get(k) for k in ("ts", "duration_ms", "attempts")})
    history.in_flight = list(dict.fromkeys(c for _, c in sent if c not in history.done))
    history.in_flight_sent = sorted(t.timestamp() for ts in sent.values() if (t := parse_utc(ts)))
    history.recent_starts = sorted(t for item in latest for t in request_times(item))
    return history


def _settle(history: History, record: dict[str, Any], real: bool) -> None:
    if real and record.get("outcome") in DONE_OUTCOMES:
        history.done.add(record["campaign_id"])
    elif real:
        history.done.discard(record["campaign_id"])


def timing_problem(record: dict[str, Any]) -> str | None:
    """Why a campaign line's ``attempts`` or ``duration_ms`` cannot be believed, or None."""
    attempts, duration = record.get("attempts"), record.get("duration_ms")
    if attempts is not None and (
        isinstance(attempts, bool)
        or not isinstance(attempts, int)
        or not 0 <= attempts <= MAX_ATTEMPTS_READ
    ):
        return f"attempts {str(attempts)[:40]} is not believable (at most {MAX_ATTEMPTS_READ:,})"
    if duration is not None and (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not 0 <= duration <= MAX_DURATION_MS
    ):
        return f"duration_ms {str(duration)[:40]} is not believable"
    return None


def request_times(record: dict[str, Any]) -> list[float]:
    """When a campaign line's requests were sent, as well as the line tells: the first at
    ``ts - duration_ms``, retries at ``ts`` (later than they were: the safe side)."""
    ended_at = parse_utc(record.get("ts"))
    if ended_at is None:
        return []
    ended = ended_at.timestamp()
    try:
        first = ended - float(record.get("duration_ms") or 0) / 1000
        attempts = min(max(1, int(record.get("attempts") or 1)), MAX_ATTEMPTS_READ)
    except (TypeError, ValueError, OverflowError):
        return []
    return [first] + [ended] * (attempts - 1)
