"""Why a run aborted, said so that the person knows which field of the job to check.

The engine reports facts (the error, the field it points to, the campaign whose
request met it); the words are written here. Answers that abort a run already
name their field (``kore.answers``); what is left to say is where a request that
got no answer at all points to. A refusal says nothing about the campaign whose
request met it, so that id is not blamed: it is named as where the run stopped.
"""

from __future__ import annotations

from bulkops.model import Job


def abort_words(
    error: str, job: Job, *, field: str | None = None, campaign_id: str | None = None
) -> str:
    where = f" (on the request for campaign {campaign_id})" if campaign_id else ""
    if field == "target.host":
        cause = f"the server could not be reached: check target.host ({job.target.host})"
        return f"{cause}. Details: {error}{where}"
    if field is not None:
        return f"{error} (check {field}){where}"
    return f"{error}{where}"
