"""Why a run aborted, said so that the person knows which field of the job to check."""

from __future__ import annotations

import re

from bulkops.model import Job

_BLAME = re.compile(r"^(?P<id>\S+): (?=HTTP \d{3}\b|connection error|no answer)")


def explain_abort(error: str, job: Job) -> str:
    """``error`` (the engine's own words) with the job field to check, and without blame.

    Answers that abort a run already name their field (``kore.answers``); what is
    left to say here is where a connection that never came points to. A refusal
    says nothing about the campaign whose request met it, so that id is not
    blamed: it is named as where the run stopped.
    """
    blamed = _BLAME.match(error)
    said = error[blamed.end() :] if blamed else error
    where = f" (on the request for campaign {blamed['id']})" if blamed else ""
    if "check " in said:  # the client named the likely cause and the field to check
        return f"{said}{where}"
    if "connection" in said or "no answer" in said or "reach" in said:
        cause = f"the server could not be reached: check target.host ({job.target.host})"
        return f"{cause}. Details: {said}{where}"
    return f"{said}{where}"  # the engine's own words say it (the audit log, ...)
