"""Properties of job loading: any input gives a Job or a JobError, never anything else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkops.errors import JobError
from bulkops.job import load_job, parse_rate_spec
from bulkops.job.problems import MAX_SHOWN
from bulkops.model import Job
from bulkops.text import EXCERPT_CHARS

ENV = {"KOREAI_CLIENT_SECRET": "s3cret", "KOREAI_TOKEN": "t0ken", "KOREAI_CLIENT_ID": "cs-env"}
SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# A message may quote a few excerpts and fixed explanations, never a whole hostile document.
MAX_MESSAGE = 400 + 4 * EXCERPT_CHARS


def outcome(data: bytes) -> Job | JobError:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "job.yaml"
        path.write_bytes(data)
        try:
            return load_job(path, environ=ENV)
        except JobError as exc:
            lines = str(exc).splitlines()  # every problem at once: at most MAX_SHOWN, each short
            assert len(lines) <= MAX_SHOWN + 1
            assert all(len(line) < MAX_MESSAGE + len(str(path)) for line in lines)
            return exc


@SETTINGS
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_job_or_a_job_error(data: bytes) -> None:
    outcome(data)


@SETTINGS
@given(st.text(max_size=2000))
def test_any_text_gives_a_job_or_a_job_error(text: str) -> None:
    outcome(text.encode("utf-8", "surrogatepass"))


YAMLISH = st.text(alphabet=st.sampled_from(list("ab1: -[]{},&*!?|>'\"#\n\t%@`~.")), max_size=300)


@SETTINGS
@given(YAMLISH)
def test_yaml_punctuation_soup(text: str) -> None:
    outcome(text.encode())


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(["10/s", "60/min", "none", "30d", "2025-01-31", "Stopped", "cd-1", "voice"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)
BASE = {
    "version": 1,
    "name": "prop",
    "target": {"host": "https://platform.kore.ai", "app_id": "st-1", "account_id": "acc-1"},
    "auth": {"client_id": "cs-1", "client_secret_env": "KOREAI_CLIENT_SECRET"},
    "campaigns": ["cd-1"],
    "run": {},
}
FIELDS = st.sampled_from(
    [((), k) for k in ("version", "name", "campaigns", "campaigns_file", "exclude", "select",
                       "audit_log", "unknown")]
    + [(("target",), k) for k in ("host", "app_id", "account_id", "campaign_type")]
    + [(("auth",), k) for k in ("client_id", "client_id_env", "client_secret_env", "token_env",
                                "token_file", "subject", "token_ttl", "client_secret")]
    + [(("run",), k) for k in ("concurrency", "rate", "rate_margin", "max_attempts",
                               "backoff_initial", "backoff_max", "timeout", "max_retry_after",
                               "max_deletes", "halt_after_failures", "dry_run")]
)  # fmt: skip


@SETTINGS
@given(FIELDS, VALUES)
def test_any_value_for_any_field_gives_a_job_or_a_job_error(
    field: tuple[tuple[str, ...], str], value: object
) -> None:
    place, key = field
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    section = doc
    for part in place:
        section = section[part]
    section[key] = value
    result = outcome(yaml.safe_dump(doc, allow_unicode=True).encode())
    assert "s3cret" not in (repr(result) if isinstance(result, Job) else str(result))


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_is_a_rate_spec_or_a_job_error(text: str) -> None:
    try:
        spec = parse_rate_spec(text)
    except JobError as exc:
        assert str(exc).startswith("run.rate: ")
        assert len(str(exc)) < 200
    else:
        assert spec.count >= 1 and spec.window > 0


UNITS = {"s": 1, "sec": 1, "seconds": 1, "m": 60, "min": 60, "minutes": 60, "h": 3600,
         "hour": 3600, "hours": 3600, "d": 86400, "day": 86400}  # fmt: skip


@SETTINGS
@given(
    st.integers(min_value=1, max_value=1_000_000),
    st.one_of(
        st.none(), st.integers(min_value=1, max_value=9999), st.sampled_from(["0.5", "2.25"])
    ),
    st.sampled_from(sorted(UNITS)),
)
def test_valid_rate_specs_round_trip(count: int, number: int | str | None, unit: str) -> None:
    text = f"{count}/{'' if number is None else number}{unit}"
    window = (1.0 if number is None else float(number)) * UNITS[unit]
    if window > 30 * 86400:
        return
    spec = parse_rate_spec(text)
    assert (spec.count, spec.window, spec.text) == (count, window, text)
