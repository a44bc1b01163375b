"""Why a run aborted, said so that the person knows which field of the job to check."""

from __future__ import annotations

import re

from bulkops.model import Job

_STATUS = re.compile(r"\bHTTP (\d{3})\b")
_BLAME = re.compile(r"^(?P<id>\S+): (?=HTTP \d{3}\b|connection error|no answer)")


def explain_abort(error: str, job: Job) -> str:
    """``error`` (the engine's own words) led by the likely cause and the job fields to check.

    The engine words a refusal as ``HTTP <status>: <server's message>``; a refusal
    says nothing about the campaign whose request met it, so that id is not
    blamed: it is named as where the run stopped.
    """
    blamed = _BLAME.match(error)
    said = error[blamed.end() :] if blamed else error
    where = f" (on the request for campaign {blamed['id']})" if blamed else ""
    found = _STATUS.search(said)
    status = int(found[1]) if found else None
    if "check " in said:  # the client already named the likely cause and the field
        return f"{said}{where}"
    t, a = job.target, job.auth
    if status == 401:
        secret = a.secret_source or "the client secret"
        cause = (
            "the server refused the credentials: check auth.client_id "
            f"({a.client_id or 'not set'}) and the {secret}, and that the JWT app belongs to "
            f"target.app_id ({t.app_id})"
        )
    elif status == 403:
        cause = (
            f"the server refused access: check target.app_id ({t.app_id}) and "
            f"target.account_id ({t.account_id}), and that the JWT app has the Campaign "
            "Management API scope"
        )
    elif status is not None and (300 <= status < 400 or status == 404):
        cause = f"the answer did not come from the Kore.ai API: check target.host ({t.host})"
    elif status is None and ("connection" in said or "no answer" in said or "reach" in said):
        cause = f"the server could not be reached: check target.host ({t.host})"
    else:  # the engine's own words say it (the audit log, a halted selection ...)
        return f"{said}{where}"
    return f"{cause}. Details: {said}{where}"
