"""Writing the restore log: ``<audit log>.restore.jsonl``, beside the audit log.

Its lines carry ``event``, ``ts``, ``run_id`` and ``job`` as the audit log's do:
``restore_started`` {``dry_run``, ``total``, ``target``, ``runs`` (the audit runs
whose deletes are restored), ``version``}, a short ``sent`` {``campaign_id``,
``name``} before each Create, one ``campaign`` line per old id {``campaign_id``,
``new_id``, ``outcome``, ``http_status``, ``message``, ``error``, ``body``} and
``restore_finished`` {``counts``, ``exit_code``, ``reason``, ``error``}.

Lines are appended by an ``AuditWriter`` (one whole line per write, a torn tail
left alone). A restore holds the audit log's own ``AuditLock`` while it reads
the logs and writes this one: a run and a restore of the same job never
overlap, and neither do two restores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bulkops import __version__
from bulkops.model import RestoreOutcome, Target
from bulkops.records.audit_log import AuditWriter
from bulkops.utc import utc_now


def restore_log_path(audit_log: Path) -> Path:
    """``audit/x.jsonl`` -> ``audit/x.restore.jsonl`` (a name without ``.jsonl`` gets it added)."""
    return audit_log.with_name(audit_log.name.removesuffix(".jsonl") + ".restore.jsonl")


class RestoreLog:
    """The lines of one restore run; ``AuditWriteError`` when one cannot be written."""

    def __init__(self, audit_log: Path, *, run_id: str, job: str, torn_tail: bool = False) -> None:
        self.path = restore_log_path(audit_log)
        self._writer = AuditWriter(self.path, torn_tail=torn_tail, what="restore log")
        self._run_id = run_id
        self._job = job

    def started(self, *, dry_run: bool, total: int, target: Target, runs: Sequence[str]) -> None:
        self._write(
            "restore_started",
            dry_run=dry_run,
            total=total,
            target={"host": target.host, "app_id": target.app_id, "account_id": target.account_id},
            runs=list(runs),
            version=__version__,
        )

    def sent(self, campaign_id: str, name: str) -> None:
        """The write-ahead line: a Create for old ``campaign_id``, named ``name``, goes out."""
        self._write("sent", campaign_id=campaign_id, name=name)

    def campaign(self, outcome: RestoreOutcome) -> None:
        self._write(
            "campaign",
            campaign_id=outcome.campaign_id,
            new_id=outcome.new_id,
            outcome=outcome.outcome,
            http_status=outcome.http_status,
            message=outcome.message,
            error=outcome.error,
            body=outcome.body,
        )

    def finished(
        self, *, counts: Mapping[str, int], exit_code: int, reason: str, error: str | None
    ) -> None:
        self._write(
            "restore_finished", counts=dict(counts), exit_code=exit_code, reason=reason, error=error
        )

    def close(self) -> None:
        self._writer.close()

    def _write(self, event: str, **fields: Any) -> None:
        record = {"event": event, "ts": utc_now(), "run_id": self._run_id, "job": self._job}
        self._writer.write(record | fields)
