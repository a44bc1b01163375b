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

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkops.jsoncodec import TooDeep, loads
from bulkops.model import DONE_OUTCOMES
from bulkops.reading import bounded_lines, open_regular
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
    """Every line of an audit log, streamed: (line number, record or BadLine).

    OSError if ``path`` cannot be opened or is no regular file (a FIFO, a device
    such as /dev/zero): nothing else is read. A line longer than ``MAX_LINE_BYTES``
    is skipped in chunks, never held whole. Each start reads the whole log (resume) and so
    does ``report``: lines are decoded with orjson (``jsoncodec.loads``), about twice as fast
    as ``json`` on such a log."""
    with open_regular(path) as f:
        for lineno, raw in enumerate(bounded_lines(f, MAX_LINE_BYTES), 1):
            if raw is None:
                yield lineno, BadLine(lineno, "line too long to be a record")
                continue
            if not raw.endswith(b"\n"):
                yield (
                    lineno,
                    BadLine(lineno, "the last line is cut off (no newline): a crash?", torn=True),
                )
                return
            if not raw.strip():
                continue
            try:
                record = loads(raw)
            except TooDeep as exc:
                yield lineno, BadLine(lineno, str(exc))
                continue
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
    # campaigns whose latest real outcome is failed, in the order they failed (--retry-failed)
    failed: dict[str, None] = field(default_factory=dict)
    problems: list[BadLine] = field(default_factory=list)
    torn_tail: bool = False
    # wall-clock times (time.time()) the latest requests to it were answered, oldest first
    recent_answers: list[float] = field(default_factory=list)
    # campaigns sent a DELETE by a run that stopped before recording the answer, not done since
    in_flight: list[str] = field(default_factory=list)
    # when those unanswered requests were sent (time.time()): they reached the server later,
    # if at all, at a moment no line tells
    in_flight_sent: list[float] = field(default_factory=list)


def read_history(path: Path, host: str, app_id: str, *, keep_answers: int = 0) -> History:
    """Campaigns whose latest non-dry-run outcome for this target is deleted/not_found,
    and when the last ``keep_answers`` requests to it (dry runs too) were answered."""
    reader = _Reader(host, app_id, keep_answers)
    if path.exists():
        for lineno, item in iter_records(path):
            reader.feed(lineno, item)
    return reader.finish()


class _Reader:
    """``read_history``'s state while the log streams past."""

    def __init__(self, host: str, app_id: str, keep_answers: int) -> None:
        self.history = History()
        self.target = (host, app_id)
        self.keep = keep_answers
        self.real_runs: set[str] = set()  # real runs against this target
        self.target_runs: set[str] = set()  # dry or real
        # only the timing fields: lines carry campaign snapshots, and keep_answers may be large
        self.latest: deque[dict[str, Any]] = deque(maxlen=keep_answers)
        self.sent: dict[tuple[str, str], Any] = {}  # (run, campaign) sent, unsettled: last ts

    def feed(self, lineno: int, item: dict[str, Any] | BadLine) -> None:
        if isinstance(item, BadLine):
            self.history.problems.append(item)
            self.history.torn_tail = self.history.torn_tail or item.torn
            return
        event, run_id = item.get("event"), str(item.get("run_id"))
        if event == "run_started":
            target = item.get("target") or {}
            if isinstance(target, dict) and (target.get("host"), target.get("app_id")) == (
                self.target
            ):
                self.target_runs.add(run_id)
                if not item.get("dry_run"):
                    self.real_runs.add(run_id)
            return
        campaign_id = item.get("campaign_id")
        if run_id not in self.target_runs or not isinstance(campaign_id, str):
            return
        # A request reached the server after its sent line and before the next line about
        # its campaign (a retry's sent line, or the outcome): that later time is the safe one.
        key = (run_id, campaign_id)
        if event == "sent":
            if key in self.sent:
                self._timed({"ts": item.get("ts")})  # the previous attempt's
            self.sent[key] = item.get("ts")
        elif event == "campaign":
            _settle(self.history, item, run_id in self.real_runs)
            if key in self.sent:
                del self.sent[key]
                self._timed({"ts": item.get("ts")})
            elif self.keep and (problem := timing_problem(item)):
                self.history.problems.append(BadLine(lineno, problem))
            elif item.get("attempts") != 0:  # 0: settled from what the run knew, no request
                self._timed({k: item.get(k) for k in ("ts", "duration_ms", "attempts")})

    def _timed(self, fields: dict[str, Any]) -> None:
        if self.keep:
            self.latest.append(fields)

    def finish(self) -> History:
        history, done = self.history, self.history.done
        history.in_flight = list(dict.fromkeys(c for _, c in self.sent if c not in done))
        history.in_flight_sent = sorted(
            t.timestamp() for ts in self.sent.values() if (t := parse_utc(ts))
        )
        history.recent_answers = sorted(t for item in self.latest for t in request_times(item))
        return history


def _settle(history: History, record: dict[str, Any], real: bool) -> None:
    if not real:
        return
    campaign_id, outcome = record["campaign_id"], record.get("outcome")
    history.failed.pop(campaign_id, None)
    if outcome in DONE_OUTCOMES:
        history.done.add(campaign_id)
        return
    history.done.discard(campaign_id)
    if outcome == "failed":
        history.failed[campaign_id] = None


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
    """When a campaign line's requests were answered, as late as the line allows: each
    attempt at ``ts`` (its outcome's time). A rate slot frees a window after the answer,
    so the later time is the safe side."""
    ended_at = parse_utc(record.get("ts"))
    if ended_at is None:
        return []
    try:
        attempts = min(max(1, int(record.get("attempts") or 1)), MAX_ATTEMPTS_READ)
    except (TypeError, ValueError, OverflowError):
        return []
    return [ended_at.timestamp()] * attempts
