"""The job file's ``run:`` section: how a run goes (concurrency, rates, retries, limits)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from bulkops.job.rates import RATE_STORE_ENV, parse_age, parse_rate_store, read_rates
from bulkops.job.select_section import read_choices
from bulkops.job.yamlsafe import Section, Seq, Value
from bulkops.model import STATUSES, RunSettings
from bulkops.text import excerpt

RUN_KEYS = [f.name for f in dataclasses.fields(RunSettings) if f.name != "rates"] + ["rate"]


def read_run_settings(run: Section | None, environ: Mapping[str, str] | None = None) -> RunSettings:
    d = dataclasses.replace(RunSettings(), rate_store=_fleet_rate_store(environ or {}))
    if run is None:
        return d
    settings = RunSettings(
        concurrency=run.read("concurrency", lambda v: v.integer(1, 1000), d.concurrency),
        rates=run.read("rate", read_rates, d.rates),
        rate_margin=run.read("rate_margin", lambda v: v.number(0, 10), d.rate_margin),
        rate_store=run.read(
            "rate_store",
            lambda v: parse_rate_store(v.string(max_len=1000), v.where, secrets_ok=False),
            d.rate_store,
        ),
        max_attempts=run.read("max_attempts", lambda v: v.integer(1, 100), d.max_attempts),
        backoff_initial=run.read("backoff_initial", _seconds(3600), d.backoff_initial),
        backoff_max=run.read("backoff_max", _seconds(3600), d.backoff_max),
        timeout=run.read("timeout", _seconds(3600), d.timeout),
        max_retry_after=run.read(
            "max_retry_after", lambda v: v.number(0, 86400), d.max_retry_after
        ),
        max_deletes=run.read("max_deletes", lambda v: v.integer(1), d.max_deletes),
        halt_after_failures=run.read("halt_after_failures", lambda v: v.integer(0), 0),
        dry_run=run.read("dry_run", Value.boolean, d.dry_run),
        protect_status=run.read("protect_status", _statuses, d.protect_status),
        stop_before_delete=run.read("stop_before_delete", Value.boolean, False),
        status_max_age=run.read("status_max_age", _age_seconds, d.status_max_age),
    )
    if settings.stop_before_delete and "Active" in settings.protect_status:
        run.need("stop_before_delete").fail(
            "Active campaigns are protected (run.protect_status, default [Active]), so none "
            "would be stopped; to stop and delete them set run.protect_status: []"
        )
    if settings.backoff_max < settings.backoff_initial:
        low, high = settings.backoff_max, settings.backoff_initial
        if maximum := run.get("backoff_max"):
            maximum.fail(f"{low:g} is less than run.backoff_initial ({high:g})")
        run.need("backoff_initial").fail(
            f"{high:g} is more than run.backoff_max ({low:g}, the default)"
        )
    return settings


def _statuses(value: Value) -> tuple[str, ...]:
    """A list of campaign statuses; ``[]`` (protect nothing) is allowed."""
    if isinstance(value.node, Seq) and not value.node.items:
        return ()
    return read_choices(value, STATUSES)


def _age_seconds(value: Value) -> float:
    """An age like 30s, 5m or 1h, at least a second and at most a day."""
    text = value.string(max_len=20)
    age = parse_age(text)
    if age is None or not 1 <= age.total_seconds() <= 86400:
        value.fail(f"{excerpt(text)}: expected an age from 1s to 24h, like 30s, 5m or 1h")
    return age.total_seconds()


def _seconds(most: float) -> Callable[[Value], float]:
    return lambda v: v.number(0, most, lo_open=True)


def _fleet_rate_store(environ: Mapping[str, str]) -> str:
    """``$BULKOPS_RATE_STORE``, the default of ``run.rate_store`` (a password may be in it)."""
    text = environ.get(RATE_STORE_ENV, "").strip()
    if not text:
        return "local"
    return parse_rate_store(text, f"environment variable {RATE_STORE_ENV}", secrets_ok=True)
