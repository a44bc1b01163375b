"""Summarising an audit log for ``bulkops report``: streamed, in bounded memory.

The log is read once, line by line; no campaign line is kept. Each run keeps counters,
a latency histogram and at most ``FAILED_KEEP`` failed campaigns for display. Across
the real (non-dry) runs the summariser keeps each campaign's latest outcome, one small
entry per campaign id, and the ids whose latest real outcome is ``failed`` (an id
leaves that set as soon as a later run deletes it): ``--failed-ids``, the failures
the table and markdown list, and the totals all come from that one record.

Totals count each campaign once, by its latest outcome across the real runs: a
campaign that failed and was deleted later counts ``deleted`` only, one protected
in three runs counts once, one that resume skipped counts by the outcome that let
it be skipped (so ``skipped`` is 0 in the totals). ``pending`` campaigns have no
line, so no id: the totals take them from the latest real run of each job. The
dry runs' totals are those of each job's latest dry run: a preview is a snapshot.

Requests are counted from what was sent, never from campaigns: ``run_finished``
records ``requests`` (every HTTP request of the run: list calls, GETs, Stop calls,
DELETEs and their retries). A log written before bulkops recorded that has one
``sent`` line per DELETE attempt: those are counted instead, and marked so
(``requests_from``), since the list calls and GETs are then missing. A run with
neither has its requests unknown (None), never a made-up figure.

Latency percentiles are nearest-rank over a histogram: durations under
``EXACT_MS`` are counted at 1 ms resolution (exact for the integer milliseconds
the recorder writes); longer ones fall into logarithmic buckets 1 % wide and are
reported as the bucket's geometric middle, within 0.5 % of the true value.
A run holds at most ~3,100 buckets (1,000 exact, ~2,100 logarithmic up to
the 10^12 ms beyond which a duration is ignored as nonsense), whatever its size.

A campaign with a ``sent`` line and no outcome in the same run was in flight
when that run stopped without recording the answer: it is counted apart
(``in_flight``), not as pending; in the totals only while no later run settled it.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bulkops.ids import MAX_ID_CHARS, id_problem
from bulkops.model import COUNT_KEYS, OUTCOMES
from bulkops.records.history import BadLine, iter_records
from bulkops.records.latest_outcomes import LatestOutcomes
from bulkops.utc import parse_utc

PERCENTILES = (50, 95, 99)
EXACT_MS = 1000  # latencies below this are kept exactly, to the millisecond
LOG_STEP = 1.01  # above it, buckets this ratio wide: at most 0.5 % off
_LN_STEP = math.log(LOG_STEP)
FAILED_KEEP = 1000  # failed campaigns kept per run for output; the rest are only counted
ERROR_CHARS = 300  # a longer error message is cut (a hostile log must not fill memory)
BAD_LINES_KEEP = 50  # bad lines reported one by one; the rest are counted
KNOWN_RUNS_SHOWN = 10  # run ids listed when --run names an unknown one
IN_FLIGHT = len(OUTCOMES)  # in ``_Summarizer.latest``: sent, and no outcome recorded since
FROM_RUN_FINISHED, FROM_SENT_LINES = "run_finished", "sent_lines"  # where ``requests`` came from


class LatencyHistogram:
    """Bounded-size duration counts; nearest-rank percentiles (see module docstring)."""

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()  # bucket value (ms) -> campaigns
        self.n = 0

    def add(self, ms: float) -> None:
        value = round(ms)
        if value >= EXACT_MS:
            bucket = math.floor(math.log(value) / _LN_STEP)
            value = round(LOG_STEP ** (bucket + 0.5))
        self._counts[value] += 1
        self.n += 1

    def percentile(self, p: int) -> int | None:
        """The smallest value with at least p % of the samples at or below it; None if empty."""
        if not self.n:
            return None
        rank = max(1, -(-p * self.n // 100))  # ceil(p/100 * n) in integers
        seen = 0
        for value in sorted(self._counts):
            seen += self._counts[value]
            if seen >= rank:
                return value
        raise AssertionError("unreachable: ranks never exceed n")


@dataclass(frozen=True)
class FailedCampaign:
    campaign_id: str
    http_status: int | None
    error: str | None
    latest: bool = False  # still its latest real outcome: what --failed-ids prints


@dataclass(frozen=True)
class RunReport:
    """One run as the report shows it. ``reason`` is "unfinished" without ``run_finished``."""

    run_id: str
    job: str | None
    dry_run: bool | None
    started: str | None
    host: str | None
    app_id: str | None
    counts: dict[str, int]
    total: int | None
    duration_s: float | None  # unfinished: from the first to the last timestamp
    requests: int | None  # HTTP requests sent; None: the log does not say
    requests_from: str | None  # FROM_RUN_FINISHED, FROM_SENT_LINES (DELETEs only), or None
    latency_ms: dict[str, int | None]  # p50, p95, p99
    retries: int
    exit_code: int | None
    reason: str
    failed: tuple[FailedCampaign, ...]  # at most FAILED_KEEP
    failed_more: int  # failed campaigns not kept in ``failed``
    failing: int = 0  # failed here and not settled since (latest real outcome); kept or not
    in_flight: int = 0  # sent a DELETE, no outcome recorded: the run stopped mid-request
    rate_limit: tuple[str, ...] = ()  # the job's rate specs, as run_started recorded them


@dataclass(frozen=True)
class Report:
    runs: tuple[RunReport, ...]
    totals: dict[str, int]  # each campaign once, by its latest outcome in the real runs
    dry_run_totals: dict[str, int]  # each job's latest dry run, apart: a preview deletes nothing
    failed_ids: tuple[str, ...]  # latest real outcome failed, in the order they first failed
    bad_lines: tuple[BadLine, ...]  # the first BAD_LINES_KEEP
    bad_line_count: int
    targets: frozenset[tuple[str, str]]  # (host, app_id) of the real runs behind failed_ids
    in_flight: int = 0  # campaigns whose latest real record is a sent DELETE without answer


class UnknownRunError(LookupError):
    def __init__(self, run_id: str, known: Sequence[str], count: int) -> None:
        super().__init__(run_id)
        self.run_id, self.known, self.count = run_id, tuple(known), count


@dataclass
class _Tally:
    """What one run accumulates while the log streams past."""

    run_id: str
    started: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    retries: int = 0
    sent: int = 0  # `sent` lines: one per DELETE attempt
    failed: list[FailedCampaign] = field(default_factory=list)
    failed_more: int = 0
    job: str | None = None
    first_ts: str | None = None
    last_ts: str | None = None
    sent_open: set[str] = field(default_factory=set)  # sent, no outcome yet


class _Summarizer:
    def __init__(self, run_id: str | None) -> None:
        self.only = run_id
        self.tallies: dict[str, _Tally] = {}
        self.latest = LatestOutcomes(IN_FLIGHT + 1)  # real runs: index in OUTCOMES, or IN_FLIGHT
        self.failing: dict[str, str] = {}  # latest real outcome failed: id -> that run's id
        self.targets: set[tuple[str, str]] = set()
        self.recent_runs: deque[str] = deque(maxlen=KNOWN_RUNS_SHOWN)
        self.run_count = 0
        self.bad_lines: list[BadLine] = []
        self.bad_line_count = 0

    def bad(self, line: BadLine) -> None:
        self.bad_line_count += 1
        if len(self.bad_lines) < BAD_LINES_KEEP:
            self.bad_lines.append(line)

    def feed(self, lineno: int, record: dict[str, Any]) -> None:
        run_id = record.get("run_id")
        if not isinstance(run_id, str):
            self.bad(BadLine(lineno, "no run_id"))
            return
        event = record.get("event")
        if event == "run_started":
            self.run_count += 1
            self.recent_runs.append(run_id)
        if self.only is not None and run_id != self.only:
            return
        tally = self.tallies.get(run_id)
        if tally is None:
            tally = self.tallies[run_id] = _Tally(run_id)
        tally.job = tally.job or _str_or_none(record.get("job"))
        ts = record.get("ts")
        if isinstance(ts, str):
            tally.first_ts = tally.first_ts or ts
            tally.last_ts = ts
        if event == "run_started" and tally.started is None:
            tally.started = record
        elif event == "run_finished":
            tally.finished = record
        elif event == "campaign":
            self._campaign(tally, record)
        elif event == "sent" and _is_id(record.get("campaign_id")):
            tally.sent += 1
            tally.sent_open.add(record["campaign_id"])
            if _is_real(tally):
                self.latest.set(record["campaign_id"], IN_FLIGHT)

    def _campaign(self, tally: _Tally, record: dict[str, Any]) -> None:
        outcome, campaign_id = record.get("outcome"), record.get("campaign_id")
        if outcome not in OUTCOMES or not isinstance(campaign_id, str):
            return
        tally.sent_open.discard(campaign_id)
        tally.outcomes[outcome] += 1
        duration, attempts = _num(record.get("duration_ms")), _int(record.get("attempts"))
        if duration is not None and 0 <= duration < 1e12 and attempts != 0:  # 0: no request
            tally.latency.add(duration)
        if attempts is not None and attempts > 1:
            tally.retries += attempts - 1
        if outcome == "failed":
            if len(tally.failed) < FAILED_KEEP:
                tally.failed.append(_failed_entry(campaign_id, record))
            else:
                tally.failed_more += 1
        if _is_real(tally):
            self.latest.set(campaign_id, OUTCOMES.index(outcome))
            self._track(tally, campaign_id, outcome)

    def _track(self, tally: _Tally, campaign_id: str, outcome: str) -> None:
        if outcome != "failed" or not _usable_id(campaign_id):  # printed one a line
            self.failing.pop(campaign_id, None)
            return
        self.failing[campaign_id] = tally.run_id  # keeps its place: the order they first failed
        target = (tally.started or {}).get("target")
        if isinstance(target, dict):
            self.targets.add((str(target.get("host")), str(target.get("app_id"))))

    def report(self) -> Report:
        if self.only is not None and self.only not in self.tallies:
            raise UnknownRunError(self.only, list(self.recent_runs), self.run_count)
        failing = Counter(self.failing.values())
        runs = tuple(_finish(t, self.failing, failing[t.run_id]) for t in self.tallies.values())
        latest = self.latest.counts
        totals = {k: latest[OUTCOMES.index(k)] if k in OUTCOMES else 0 for k in COUNT_KEYS}
        totals["pending"] = _latest_sum([r for r in runs if not r.dry_run], "pending")
        dry = {k: _latest_sum([r for r in runs if r.dry_run], k) for k in COUNT_KEYS}
        return Report(
            runs, totals, dry, tuple(self.failing), tuple(self.bad_lines), self.bad_line_count,
            frozenset(self.targets), in_flight=latest[IN_FLIGHT],
        )  # fmt: skip


def summarize(path: Path, run_id: str | None = None) -> Report:
    """Summarise the audit log at ``path`` in one streamed pass.

    ``run_id`` restricts the report to that run (UnknownRunError if the log has
    none); the totals and failed ids are then that run's. Bad lines are returned,
    not raised; an unreadable file raises OSError.
    """
    summarizer = _Summarizer(run_id)
    for lineno, item in iter_records(path):
        if isinstance(item, BadLine):
            summarizer.bad(item)
        else:
            summarizer.feed(lineno, item)
    return summarizer.report()


def _latest_sum(runs: Sequence[RunReport], key: str) -> int:
    """``counts[key]`` summed over each job's latest run: runs are in log order."""
    latest = {r.job: r for r in runs}
    return sum(r.counts[key] for r in latest.values())


def _is_real(tally: _Tally) -> bool:
    """Not a dry run; a run whose start is missing counts as real (it may have deleted)."""
    return not (tally.started or {}).get("dry_run")


def _requests(t: _Tally) -> tuple[int | None, str | None]:
    """What was sent: ``run_finished.requests``, else the ``sent`` lines, else unknown."""
    recorded = _int((t.finished or {}).get("requests"))
    if recorded is not None and recorded >= 0:
        return recorded, FROM_RUN_FINISHED
    if t.sent:
        return t.sent, FROM_SENT_LINES
    return None, None


def _finish(t: _Tally, failing_ids: dict[str, str], failing: int) -> RunReport:
    started, finished = t.started or {}, t.finished
    target, total = _obj(started.get("target")), _int(started.get("total"))
    if finished is not None:
        raw = _obj(finished.get("counts"))
        counts = {k: _int(raw.get(k)) or 0 for k in COUNT_KEYS}
        duration = _num(finished.get("duration_s"))
        reason = str(finished.get("reason") or "unknown")
        exit_code = _int(finished.get("exit_code"))
    else:  # killed: what its campaign lines say; in flight apart; never-attempted ones pending
        counts = {k: t.outcomes[k] for k in COUNT_KEYS}
        counts["pending"] = max(0, (total or 0) - sum(t.outcomes.values()) - len(t.sent_open))
        duration, reason, exit_code = _elapsed(t.first_ts, t.last_ts), "unfinished", None
    requests, requests_from = _requests(t)
    failed = (replace(f, latest=failing_ids.get(f.campaign_id) == t.run_id) for f in t.failed)
    return RunReport(
        run_id=t.run_id,
        job=t.job,
        dry_run=started.get("dry_run") if isinstance(started.get("dry_run"), bool) else None,
        started=_str_or_none(started.get("ts")),
        host=_str_or_none(target.get("host")),
        app_id=_str_or_none(target.get("app_id")),
        counts=counts,
        total=total,
        duration_s=duration,
        requests=requests,
        requests_from=requests_from,
        latency_ms={f"p{p}": t.latency.percentile(p) for p in PERCENTILES},
        retries=t.retries,
        exit_code=exit_code,
        reason=reason,
        failed=tuple(failed),
        failed_more=t.failed_more,
        failing=failing,
        in_flight=len(t.sent_open),
        rate_limit=_rate_limit(started.get("rate")),
    )


def _rate_limit(value: Any) -> tuple[str, ...]:
    """The run's rate specs (``run_started.rate``), each cut short: the log may hold anything."""
    if not isinstance(value, list):
        return ()
    return tuple(_printable(str(v))[:40] for v in value[:10] if isinstance(v, str))


def _failed_entry(campaign_id: str, record: dict[str, Any]) -> FailedCampaign:
    error = record.get("error") or record.get("message")
    return FailedCampaign(
        _printable(campaign_id),
        _int(record.get("http_status")),
        None if error is None else _printable(str(error)),
    )


def _printable(text: str) -> str:
    """Cut to ERROR_CHARS, control characters blanked: the log may hold anything."""
    if len(text) > ERROR_CHARS:
        text = text[: ERROR_CHARS - 1] + "…"
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _elapsed(first: str | None, last: str | None) -> float | None:
    start, end = parse_utc(first), parse_utc(last)
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _usable_id(campaign_id: str) -> bool:
    return id_problem(campaign_id) is None


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS


# A log may hold anything: these read a field as the type we need, else None / {}.
def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    if isinstance(value, float) and math.isfinite(value):
        return value
    return _int(value)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
