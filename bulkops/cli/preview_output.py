"""A dry run's preview on stdout: what would be deleted, what is protected, missing, excluded."""

from __future__ import annotations

from bulkops.cli.tables import id_lines, preview, short_list
from bulkops.model import Job, RunResult
from bulkops.text import plural, printable_json


def preview_text(output: str, job: Job, result: RunResult) -> str:
    """The preview in the format asked for (``table``, ``json`` or ``ids``)."""
    if output == "ids":  # what the real run would delete, one a line, nothing else
        return id_lines(str(r["id"]) for r in result.previews)
    if output == "json":
        doc = {
            "job": job.name, "target": job.target.host, "count": len(result.previews),
            "campaigns": list(result.previews), "protected": list(result.protected),
            "not_found": list(result.not_found), "excluded": list(result.excluded),
            "counts": dict(result.counts),
        }  # fmt: skip
        return printable_json(doc, indent=1)
    return _table(job, result)


def _table(job: Job, result: RunResult) -> str:
    parts = [
        *([preview(result.previews)] if result.previews else []),
        f"{plural(len(result.previews), 'campaign')} would be deleted from {job.target.host}",
    ]
    if result.protected:
        statuses = ", ".join(job.run.protect_status)
        parts += [
            "",
            f"{plural(len(result.protected), 'campaign')} "
            f"{'is' if len(result.protected) == 1 else 'are'} protected and would not be deleted "
            f"(status {statuses}: run.protect_status):",
            preview(result.protected),
        ]
    if result.not_found:
        found = list(result.not_found)
        parts += [
            "",
            f"{plural(len(found), 'id')} {'was' if len(found) == 1 else 'were'} not found "
            f"(nothing to delete): {short_list(found)}",
        ]
    if result.excluded:
        excluded = list(result.excluded)
        parts += ["", f"{plural(len(excluded), 'id')} left out by exclude: {short_list(excluded)}"]
    if failed := result.counts.get("failed", 0):
        parts += [
            "",
            f"{plural(failed, 'campaign')} could not be previewed (failed): see the audit log",
        ]
    return "\n".join(parts)
