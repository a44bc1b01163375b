"""The audit lines of one run, and the tally they add up to.

``RunRecorder.recording()`` writes ``run_started`` on entry and, whatever
happens inside, ``run_finished`` on exit: this is the one place that promise
is kept. Counts derive from the campaign outcomes; ``pending`` is what
is left of ``total``, so the counts always add up.

``sent()`` writes the short write-ahead line before each DELETE. Once a line
cannot be written (disk full, file size limit, I/O error) the recorder is
broken: every later write raises ``AuditWriteError`` without trying, the run's
``RunEnding`` is told (``aborted`` with the log's error), and the counts stay
right in memory for the summary and metrics files.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bulkops import __version__
from bulkops.engine.ending import RunEnding
from bulkops.engine.flows import flow_of
from bulkops.errors import AuditWriteError
from bulkops.model import COUNT_KEYS, Job, Outcome, zero_counts
from bulkops.records.audit_log import AuditWriter
from bulkops.utc import utc_now


class RunRecorder:
    def __init__(self, writer: AuditWriter, job: Job, run_id: str, *, ending: RunEnding) -> None:
        self._writer = writer
        self._job = job
        self._run_id = run_id
        self._ending = ending
        self.started = False  # run_started is written: run_finished will be
        self.total = 0
        self.counts = zero_counts()
        self.exit_code = 0
        self.duration_s = 0.0
        self._write_error: str | None = None  # why the log could not be written, once it could not

    @contextmanager
    def recording(
        self,
        total: int,
        skipped: int,
        *,
        began: float,
        publish: Callable[[], None] = lambda: None,
        requests: Callable[[], int] = lambda: 0,
    ) -> Iterator[None]:
        """``run_started`` now, ``run_finished`` on the way out (``began``: time.monotonic()
        when the run began; ``requests``: how many requests it sent, once it is over).

        ``publish`` (the monitoring files) is called once the exit code is known and before
        ``run_finished`` is written; a file it cannot write is reported to the run's ending,
        and then it is called again, so that every record says the one final exit code.
        """
        self.total = total
        self.counts["skipped"] = skipped
        target = self._job.target
        self._write(
            "run_started",
            dry_run=not flow_of(self._job).deletes,
            total=total,
            target={"host": target.host, "app_id": target.app_id, "account_id": target.account_id},
            version=__version__,
            rate=[str(spec) for spec in self._job.run.rates],  # what `report` compares with
        )
        self.started = True
        try:
            yield
        except BaseException:
            self._ending.stop("aborted")  # the work raised: it did not complete
            raise
        finally:
            self._finish(publish, began, requests())

    def sent(self, campaign_id: str) -> None:
        """The write-ahead line: a DELETE for ``campaign_id`` is about to be sent."""
        self._write("sent", campaign_id=campaign_id)

    def campaign(
        self, outcome: Outcome, *, before: dict[str, Any] | None = None, stopped: bool = False
    ) -> None:
        """The campaign line: its ``outcome``, what bulkops saw of it ``before`` and whether
        it ``stopped`` the campaign (the Stop call) before deleting it."""
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
            before=before,
            stopped=stopped,
        )

    def _finish(self, publish: Callable[[], None], began: float, requests: int) -> None:
        settled = sum(self.counts[k] for k in COUNT_KEYS if k != "pending")
        self.counts["pending"] = self.total - settled
        self.duration_s = round(time.monotonic() - began, 3)
        self._final_exit_code(publish)
        end = self._ending.end()
        with contextlib.suppress(AuditWriteError):  # the ending says it
            self._write(
                "run_finished",
                counts=dict(self.counts),
                duration_s=self.duration_s,
                exit_code=self.exit_code,
                reason=end.reason,
                error=self._ending.words(),
                requests=requests,
            )
        try:
            self._writer.close()
        except AuditWriteError as exc:  # the last lines may be lost: the files must say so
            self._write_error = self._write_error or str(exc)
            self._ending.log_failed(str(exc))
            self._final_exit_code(publish)

    def _final_exit_code(self, publish: Callable[[], None]) -> None:
        """The exit code from the ending; ``publish`` until writing them changes it no more."""
        while True:
            self.exit_code = self._ending.exit_code(self.counts["failed"])
            publish()
            if self._ending.exit_code(self.counts["failed"]) == self.exit_code:
                return

    def _write(self, event: str, **fields: Any) -> None:
        if self._write_error is not None:
            raise AuditWriteError(self._write_error)
        record = {"event": event, "ts": utc_now(), "run_id": self._run_id, "job": self._job.name}
        try:
            self._writer.write(record | fields)
        except AuditWriteError as exc:
            self._write_error = str(exc)
            self._ending.log_failed(str(exc))
            raise
