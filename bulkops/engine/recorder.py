"""The audit lines of one run, and the tally they add up to.

``RunRecorder.recording()`` writes ``run_started`` on entry and, whatever
happens inside, ``run_finished`` on exit: this is the one place that promise
is kept. Counts derive from the campaign outcomes; ``pending`` is what
is left of ``total``, so the counts always add up.

``sent()`` writes the short write-ahead line before each DELETE. Once a line
cannot be written (disk full, file size limit, I/O error) the recorder is
broken: every later write raises ``AuditWriteError`` without trying, the run is
``aborted`` with the log's error, and the counts stay right in memory for the
summary and metrics files.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bulkops import __version__
from bulkops.errors import AuditWriteError
from bulkops.model import COUNT_KEYS, Job, Outcome, exit_code_for, zero_counts
from bulkops.records.audit_log import AuditWriter
from bulkops.utc import utc_now


@dataclass
class Ending:
    """How the recorded run ended, filled in while it runs."""

    reason: str = "aborted"  # stays so if the work raised
    signum: int | None = None
    error: str | None = None


class RunRecorder:
    def __init__(
        self,
        writer: AuditWriter,
        job: Job,
        run_id: str,
        *,
        started: float,
        requests: Callable[[], int | None] = lambda: None,  # sent so far; None: not counted
    ) -> None:
        self._writer = writer
        self._requests = requests
        self._job = job
        self._run_id = run_id
        self._started = started  # time.monotonic() when the run began
        self.total = 0
        self.counts = zero_counts()
        self.ending = Ending()
        self.exit_code = 0
        self.duration_s = 0.0
        self.write_error: str | None = None  # why the log could not be written, once it could not

    @contextmanager
    def recording(self, total: int, skipped: int) -> Iterator[Ending]:
        """``run_started`` now, ``run_finished`` on the way out; yields the ``Ending`` to fill."""
        self.total = total
        self.counts["skipped"] = skipped
        target = self._job.target
        self._write(
            "run_started",
            dry_run=self._job.run.dry_run,
            total=total,
            target={"host": target.host, "app_id": target.app_id, "account_id": target.account_id},
            version=__version__,
            rate=[str(spec) for spec in self._job.run.rates],  # what `report` compares with
        )
        try:
            yield self.ending
        finally:
            self._finish()

    def sent(self, campaign_id: str) -> None:
        """The write-ahead line: a DELETE for ``campaign_id`` is about to be sent."""
        self._write("sent", campaign_id=campaign_id)

    def campaign(self, outcome: Outcome) -> None:
        self.counts[outcome.outcome] += 1
        self._write(
            "campaign",
            campaign_id=outcome.campaign_id,
            outcome=outcome.outcome,
            http_status=outcome.http_status,
            attempts=outcome.attempts,
            duration_ms=outcome.duration_ms,
            message=outcome.message,
            error=outcome.error,
            campaign=outcome.campaign,
        )

    def _finish(self) -> None:
        settled = sum(self.counts[k] for k in COUNT_KEYS if k != "pending")
        self.counts["pending"] = self.total - settled
        self.duration_s = round(time.monotonic() - self._started, 3)
        self._settle_ending()
        with contextlib.suppress(AuditWriteError):  # write_error says it
            self._write(
                "run_finished",
                counts=dict(self.counts),
                duration_s=self.duration_s,
                exit_code=self.exit_code,
                reason=self.ending.reason,
                requests=self._requests(),
            )
        try:
            self._writer.close()
        except AuditWriteError as exc:
            self.write_error = self.write_error or str(exc)
        self._settle_ending()

    def _settle_ending(self) -> None:
        end = self.ending
        if self.write_error is not None:
            end.reason = "interrupted" if end.reason == "interrupted" else "aborted"
            end.error = f"{self.write_error}; nothing more was sent"
        self.exit_code = exit_code_for(end.reason, self.counts["failed"], end.signum)

    def _write(self, event: str, **fields: Any) -> None:
        if self.write_error is not None:
            raise AuditWriteError(self.write_error)
        record = {"event": event, "ts": utc_now(), "run_id": self._run_id, "job": self._job.name}
        try:
            self._writer.write({**record, **fields})
        except AuditWriteError as exc:
            self.write_error = str(exc)
            raise
