"""What ``bulkops validate`` says about a job, and the max_deletes guard."""

from __future__ import annotations

from urllib.parse import urlsplit

from bulkops.model import Job


def max_deletes_refusal(job: Job, count: int, *, at_least: bool = False) -> str | None:
    """Why a real run that would delete ``count`` campaigns (``at_least``: the listing
    stopped there) must not start, or None when ``run.max_deletes`` allows it."""
    cap = job.run.max_deletes
    if count <= cap and not at_least:
        return None
    many = (
        f"the selection holds more than run.max_deletes ({cap:,}) campaigns (listing stopped there)"
        if at_least
        else f"{count:,} campaigns would be deleted, more than run.max_deletes ({cap:,})"
    )
    return (
        f"{many}; nothing was deleted. Raise run.max_deletes in {job.path} or narrow the selection."
    )


def describe(job: Job) -> list[str]:
    """Lines for ``bulkops validate``: what the job would do. Never shows a secret.

    ``job.warnings`` are not among them: the caller shows those as warnings.
    """
    t, a, run = job.target, job.auth, job.run
    rate = ", ".join(map(str, run.rates))
    halt = (
        f"after {run.halt_after_failures} failed campaigns" if run.halt_after_failures else "never"
    )
    return [
        f"job: {job.name} ({job.path}, sha256 {job.sha256[:12]})",
        f"target: {t.host}  app {t.app_id}  account {t.account_id}  type {t.campaign_type}  "
        f"api {t.api}",
        f"auth: client id {a.client_id or '(none)'}; {a.secret_source}; subject {a.subject}; "
        f"token ttl {a.token_ttl:g} s",
        _describe_selection(job),
        f"exclude: {_ids(len(job.exclude))}",
        f"concurrency: {run.concurrency}",
        f"rate: {rate} (+{run.rate_margin:g} s margin), the account's budget kept "
        f"{_budget_place(run.rate_store)}"
        if run.rates
        else "rate: unlimited",
        f"retries: at most {run.max_attempts} attempts, backoff {run.backoff_initial:g} s to "
        f"{run.backoff_max:g} s, Retry-After up to {run.max_retry_after:g} s, "
        f"timeout {run.timeout:g} s",
        f"max deletes: {run.max_deletes:,}",
        "protected (never deleted): "
        + (", ".join(run.protect_status) or "nothing")
        + ("; Active campaigns are stopped before their delete" if run.stop_before_delete else ""),
        f"halt: {halt}",
        f"dry run: {'yes' if run.dry_run else 'no'}",
        f"audit log: {job.audit_log}",
        *(
            f"answers.{kind}: {', '.join(map(repr, globs))} (besides the built-in wordings)"
            for kind, globs in vars(job.answers).items()
            if globs
        ),
        *(
            f"restore.{key}: {value!r} (for campaigns whose snapshot lacks it)"
            for key, value in vars(job.restore).items()
            if value is not None
        ),
    ]


def _budget_place(store: str) -> str:
    if store == "local":
        return "on this machine"
    parts = urlsplit(store)  # never the password
    return f"in {parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


def _describe_selection(job: Job) -> str:
    s = job.select
    if s is None:
        return f"campaigns: {_ids(len(job.campaign_ids))} (de-duplicated, exclude applied)"
    filters = [
        f"{label} {', '.join(map(str, values))}"
        for label, values in (
            ("status", s.status),
            ("dialing mode", s.dialing_mode),
            ("priority", s.priority),
        )
        if values
    ]
    filters += [f"name {s.name!r}"] if s.name else []
    filters += [f"created before {s.created_before.text}"] if s.created_before else []
    return f"select: {'; '.join(filters)}"


def _ids(count: int) -> str:
    return f"{count:,} id{'s' * (count != 1)}"
