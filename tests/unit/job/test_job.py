"""The job file: valid jobs, every validation rule, secrets, id files, hostile input."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bulkops.errors import JobError
from bulkops.ids import validate_campaign_id
from bulkops.job import (
    CAMPAIGN_TYPES,
    describe,
    load_job,
    max_deletes_refusal,
    parse_rate_spec,
    with_overrides,
)
from bulkops.job.idfile import read_ids_file
from bulkops.model import DEFAULT_RATES, Job, RateSpec, RestoreDefaults, RunSettings

FIXTURES = Path(__file__).parents[2] / "fixtures" / "jobs"
SECRET = "S3CRET-value-that-must-never-show"
TOKEN = "eyJ-TOKEN-value-that-must-never-show"
ENV = {
    "KOREAI_CLIENT_SECRET": SECRET,
    "KOREAI_TOKEN": TOKEN,
    "KOREAI_CLIENT_ID": "cs-from-env",
    "EMPTY_VAR": "",
}

MINIMAL = """\
version: 1
name: t
target:
  host: https://platform.kore.ai
  app_id: st-1
  account_id: acc-1
auth:
  client_id: cs-1
  client_secret_env: KOREAI_CLIENT_SECRET
"""


def write(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, **kw: object) -> Job:
    return load_job(write(tmp_path, text), environ=ENV, **kw)  # type: ignore[arg-type]


def error(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "job.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(JobError) as info:
        load_job(path, environ=ENV)
    return str(info.value)


# --- valid jobs -------------------------------------------------------------------------------


def test_full_job_sets_every_field(tmp_path: Path) -> None:
    path = FIXTURES / "valid" / "full.yaml"
    job = load_job(path, environ=ENV)

    assert job.version == 1
    assert job.name == "billing-cleanup.v2_test"
    assert job.target.host == "https://platform.kore.ai:8443"  # lower-cased, no trailing slash
    assert job.target.app_id == "st-0603182c-7ffb-53c3-b307-47ca14b9xxxx"
    assert job.target.account_id == "67777ce93e25326494e9xxxx"
    assert job.target.campaign_type == "voice"
    assert job.auth.client_id == "cs-from-env"
    assert job.auth.client_secret is not None and job.auth.client_secret.reveal() == SECRET
    assert job.auth.token is None
    assert job.auth.subject == "cleanup-bot"
    assert job.auth.token_ttl == 120
    assert job.campaign_ids == (
        "cd-2129073-58d9-44d5-a5d1-454b1220xxxx",
        "12345",
        "cd-dup",
        "cd-from-file-1",
        "cd-hash#kept",
        "cd-from-file-2",
    )
    assert job.select is None
    assert job.exclude == frozenset({"cd-excluded"})
    assert job.run == RunSettings(
        concurrency=16,
        rates=(RateSpec(10, 1.0, "10/s"), RateSpec(600, 60.0, "600/min"), RateSpec(5, 2.0, "5/2s")),
        rate_margin=0.25,
        max_attempts=7,
        backoff_initial=1.0,
        backoff_max=60.5,
        timeout=12.5,
        max_retry_after=0.0,
        max_deletes=50,
        halt_after_failures=3,
        dry_run=True,
    )
    assert job.audit_log == path.parent / "logs" / "cleanup.jsonl"
    assert job.path == path
    assert len(job.sha256) == 64
    assert job.warnings == ("2 duplicate campaign ids removed (first: 'cd-dup')",)


def test_minimal_job_takes_the_defaults(tmp_path: Path) -> None:
    job = load_job(FIXTURES / "valid" / "minimal.yaml", environ=ENV)
    assert job.target.campaign_type == "voice" == CAMPAIGN_TYPES[0]
    assert job.auth.subject == "bulkops"
    assert job.auth.token_ttl == 300
    assert job.run == RunSettings()
    assert job.run.rates == DEFAULT_RATES
    assert job.audit_log == FIXTURES / "valid" / "audit" / "minimal.jsonl"
    assert job.warnings == ()


def test_select_job(tmp_path: Path) -> None:
    job = load_job(FIXTURES / "valid" / "select.yaml", environ=ENV)
    assert job.select is not None
    assert job.select.status == ("Stopped", "Completed")  # de-duplicated, order kept
    assert job.select.dialing_mode == ("Preview",)  # a single value instead of a list
    assert job.select.priority == (5,)
    assert job.select.name == "Billing*"
    assert job.select.created_before is not None
    assert job.select.created_before.instant == datetime(2025, 1, 31, tzinfo=timezone.utc)
    assert job.select.created_before.text == "2025-01-31"
    assert job.campaign_ids == ()
    assert job.exclude == frozenset({"cd-keep"})
    assert job.auth.token is not None and job.auth.token.reveal() == TOKEN
    assert job.auth.client_secret is None and job.auth.client_id == ""
    assert job.target.host == "http://127.0.0.1:8080"
    assert job.run.rates == ()


def test_sha256_is_of_the_file_bytes(tmp_path: Path) -> None:
    import hashlib

    path = write(tmp_path, MINIMAL + "campaigns: [cd-1]\n")
    assert load_job(path, environ=ENV).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


UTC = timezone.utc


@pytest.mark.parametrize(
    ("written", "instant", "age"),
    [
        ("2025-01-31", datetime(2025, 1, 31, tzinfo=UTC), None),
        ('"2025-01-31"', datetime(2025, 1, 31, tzinfo=UTC), None),
        ("2025-01-31T12:30:00Z", datetime(2025, 1, 31, 12, 30, tzinfo=UTC), None),
        ('"2025-01-31T12:30:00Z"', datetime(2025, 1, 31, 12, 30, tzinfo=UTC), None),
        ('"2025-01-31T12:30:00"', datetime(2025, 1, 31, 12, 30, tzinfo=UTC), None),  # naive: UTC
        ("2025-01-31 12:30:00", datetime(2025, 1, 31, 12, 30, tzinfo=UTC), None),
        ('"2025-01-31T14:30:00+02:00"', datetime(2025, 1, 31, 12, 30, tzinfo=UTC), None),
        ("2025-01-31T14:30:00+02:00", datetime(2025, 1, 31, 12, 30, tzinfo=UTC), None),
        ("30d", None, timedelta(days=30)),
        ("12h", None, timedelta(hours=12)),
        ("8w", None, timedelta(weeks=8)),
        ("90m", None, timedelta(minutes=90)),
        ("45s", None, timedelta(seconds=45)),
    ],
)
def test_created_before(
    tmp_path: Path, written: str, instant: datetime | None, age: timedelta | None
) -> None:
    job = load(tmp_path, MINIMAL + f"select:\n  created_before: {written}\n")
    assert job.select is not None and job.select.created_before is not None
    cb = job.select.created_before
    assert (cb.instant, cb.age) == (instant, age)
    assert cb.text == written.strip('"')
    if cb.instant is not None:
        assert cb.instant.tzinfo is not None and cb.instant.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("written", "rates"),
    [
        ("none", ()),
        ("None", ()),
        ("[]", ()),
        ("10/s", (RateSpec(10, 1.0, "10/s"),)),
        ("[60/min]", (RateSpec(60, 60.0, "60/min"),)),
    ],
)
def test_rate_forms(tmp_path: Path, written: str, rates: tuple[RateSpec, ...]) -> None:
    job = load(tmp_path, MINIMAL + f"campaigns: [cd-1]\nrun:\n  rate: {written}\n")
    assert job.run.rates == rates


def test_paths_campaigns_file_and_audit_log_beside_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "ids.txt").write_text("cd-1\n", encoding="utf-8")
    path = write(jobs, MINIMAL + "campaigns_file: ids.txt\naudit_log: out/a.jsonl\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    job = load_job(path, environ=ENV)
    assert job.campaign_ids == ("cd-1",)
    assert job.audit_log == jobs / "out" / "a.jsonl"  # not under elsewhere/: resume must find it
    absolute = tmp_path / "abs.jsonl"
    job = load_job(write(jobs, MINIMAL + f"campaigns: [x]\naudit_log: {absolute}\n"), environ=ENV)
    assert job.audit_log == absolute


def test_exclude_applies_to_explicit_ids_with_warnings(tmp_path: Path) -> None:
    job = load(tmp_path, MINIMAL + "campaigns: [a, b, a, c, b]\nexclude: [b, zz]\n")
    assert job.campaign_ids == ("a", "c")
    assert job.exclude == frozenset({"b", "zz"})
    assert job.warnings == (
        "2 duplicate campaign ids removed (first: 'a')",
        "1 exclude ids match none of the campaigns (a typo?): 'zz'",
    )
    job = load(tmp_path, MINIMAL + "campaigns: [a]\nexclude: [a]\n")
    assert job.campaign_ids == ()
    assert "nothing to do" in job.warnings[-1]


@pytest.mark.parametrize(
    ("host", "stored"),
    [
        ("https://platform.kore.ai", "https://platform.kore.ai"),
        ("https://platform.kore.ai/", "https://platform.kore.ai"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://127.0.0.9", "http://127.0.0.9"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
        ("https://[2001:db8::1]", "https://[2001:db8::1]"),
    ],
)
def test_good_hosts(tmp_path: Path, host: str, stored: str) -> None:
    text = MINIMAL.replace("https://platform.kore.ai", host) + "campaigns: [x]\n"
    assert load(tmp_path, text).target.host == stored


@pytest.mark.parametrize(
    "host",
    ["http://10.0.0.1", "https://a..b", "https://-x", "https://[zz::1]", "https://x:0", "https://"],
)
def test_bad_hosts(tmp_path: Path, host: str) -> None:
    text = MINIMAL.replace("https://platform.kore.ai", host) + "campaigns: [x]\n"
    assert ":4: target.host: " in error(tmp_path, text)


# --- broken jobs, data-driven ------------------------------------------------------------------


BROKEN = sorted((FIXTURES / "broken").glob("*.yaml"))


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_job(path: Path, tmp_path: Path) -> None:
    expected = path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(JobError) as info:
        load_job(path, environ=ENV)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "INLINE" not in message  # inline secrets are never echoed
    assert len(message) < 400


# --- secrets -------------------------------------------------------------------------------


def test_no_secret_in_errors_repr_or_describe(tmp_path: Path) -> None:
    job = load(tmp_path, MINIMAL + "campaigns: [cd-1]\n")
    for text in (repr(job), str(job), "\n".join(describe(job)), repr(job.auth)):
        assert SECRET not in text
    assert "environment variable KOREAI_CLIENT_SECRET" in "\n".join(describe(job))
    inline = MINIMAL.replace("client_secret_env: KOREAI_CLIENT_SECRET", f"client_secret: {SECRET}")
    message = error(tmp_path, inline + "campaigns: [cd-1]\n")
    assert "secrets must not be written in the job file" in message
    assert SECRET not in message


def test_secret_pasted_as_env_name_is_not_echoed(tmp_path: Path) -> None:
    text = MINIMAL.replace("KOREAI_CLIENT_SECRET", "a/b+c=secret!") + "campaigns: [x]\n"
    message = error(tmp_path, text)
    assert "a/b+c" not in message and "environment variable" in message


def test_secret_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    text = MINIMAL.replace(
        "client_secret_env: KOREAI_CLIENT_SECRET", "client_secret_file: secret.txt"
    )
    job = load(tmp_path, text + "campaigns: [x]\n")
    assert job.auth.client_secret is not None
    assert job.auth.client_secret.reveal() == SECRET  # one trailing newline stripped
    assert f"file {secret_file}" in "\n".join(describe(job))
    assert SECRET not in repr(job) and SECRET not in "\n".join(describe(job))


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET, encoding="utf-8")
    secret_file.chmod(0o644)
    text = MINIMAL.replace(
        "client_secret_env: KOREAI_CLIENT_SECRET", "client_secret_file: secret.txt"
    )
    message = error(tmp_path, text + "campaigns: [x]\n")
    assert ":9: auth.client_secret_file: " in message
    assert f"chmod 600 {secret_file}" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("content", "problem"), [(b"", "is empty"), (b"\n", "is empty"), (b"\xff\xfe", "not UTF-8")]
)
def test_bad_secret_files(tmp_path: Path, content: bytes, problem: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(content)
    token_file.chmod(0o600)
    text = MINIMAL.replace("client_secret_env: KOREAI_CLIENT_SECRET", "token_file: token")
    assert problem in error(tmp_path, text + "campaigns: [x]\n")


def test_token_file_with_crlf(tmp_path: Path) -> None:
    (tmp_path / "token").write_bytes(TOKEN.encode() + b"\r\n")
    (tmp_path / "token").chmod(0o600)
    text = MINIMAL.replace("client_secret_env: KOREAI_CLIENT_SECRET", "token_file: token")
    job = load(tmp_path, text + "campaigns: [x]\n")
    assert job.auth.token is not None and job.auth.token.reveal() == TOKEN
    assert job.auth.client_id == "cs-1"


# --- ids and id files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["cd-1", "x", "a" * 256, "cd-1#x", "ü-ﬁ-✓", "12345", "a.b_c~d%20"]
)
def test_valid_campaign_ids(value: str) -> None:
    assert validate_campaign_id(value, "here") == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        ("a" * 257, "is 257 characters long; at most 256"),
        ("a/b", "contains '/'"),
        ("a b", "whitespace"),
        ("a\tb", "whitespace"),
        ("a\x00b", "control"),
        ("a\x7fb", "control"),
        ("a\u00a0b", "whitespace"),
        ("a\u2028b", "whitespace"),
        ("a\u200bb", "control"),  # zero-width space: invisible
        ("a\ud800b", "control"),  # a lone surrogate cannot be encoded into a URL
        (12345, "quote it"),
        (1.5, "quote it"),
        (True, "expected a campaign id"),
        (None, "got nothing"),
        (["x"], "expected a campaign id"),
    ],
)
def test_invalid_campaign_ids(value: object, problem: str) -> None:
    with pytest.raises(JobError) as info:
        validate_campaign_id(value, "campaigns[3]")
    assert str(info.value).startswith("campaigns[3]: ")
    assert problem in str(info.value)


def test_long_id_is_quoted_short() -> None:
    with pytest.raises(JobError) as info:
        validate_campaign_id("x" * 300, "ids.txt:17")
    assert len(str(info.value)) < 200 and "…" in str(info.value)


def test_ids_file_forms(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_bytes(
        b"\xef\xbb\xbfcd-1\r\n"
        b"# a whole-line comment\r\n"
        b"   \r\n"
        b"  cd-2  # trailing comment\n"
        b"\tcd-3\t\n"
        b"cd-4#not-a-comment\n"
        b"   # indented comment\n"
        b"cd-1\n"
        b"cd-5"  # no final newline
    )
    assert read_ids_file(path) == ["cd-1", "cd-2", "cd-3", "cd-4#not-a-comment", "cd-1", "cd-5"]


def test_empty_ids_file_is_empty(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_text("# nothing yet\n\n", encoding="utf-8")
    assert read_ids_file(tmp_path / "ids.txt") == []
    message = error(tmp_path, MINIMAL + "campaigns_file: ids.txt\n")
    assert "the job selects no campaigns" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"cd-1\ncd-2\n\xff\xfe\n", "ids.txt:3: not valid UTF-8"),
        (b"cd-1\ncd 2 x\n", "ids.txt:2: campaign id 'cd 2 x' contains whitespace"),
        (b"ok\n" + b"y" * 300 + b"\n", "ids.txt:2: campaign id 'yyyy"),
        (b"a/b\n", "ids.txt:1: campaign id 'a/b' contains '/'"),
        (b"x" * 70_000, "ids.txt:1: line longer than"),
    ],
)
def test_bad_ids_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "ids.txt"
    path.write_bytes(content)
    with pytest.raises(JobError) as info:
        read_ids_file(path)
    assert expected in str(info.value)
    assert len(str(info.value)) < 300


def test_missing_ids_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(JobError) as info:
        read_ids_file(tmp_path / "nope.txt", "jobs/x.yaml:4: campaigns_file")
    assert str(info.value).startswith("jobs/x.yaml:4: campaigns_file: cannot read")


def test_large_ids_file(tmp_path: Path) -> None:
    """Every id of a 200,000-line file, in order; how long it takes is bench/job_input.py's."""
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"cd-{i:08d}\n" for i in range(200_000)), encoding="utf-8")
    ids = read_ids_file(path)
    assert len(ids) == 200_000 and ids[-1] == "cd-00199999"


# --- rate specs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "window"),
    [
        ("10/s", 10, 1.0),
        ("60/min", 60, 60.0),
        ("1800/hour", 1800, 3600.0),
        ("5/2s", 5, 2.0),
        ("100/10s", 100, 10.0),
        ("1/0.5s", 1, 0.5),
        ("3/sec", 3, 1.0),
        ("3/seconds", 3, 1.0),
        ("7/m", 7, 60.0),
        ("7/minutes", 7, 60.0),
        ("9/h", 9, 3600.0),
        ("9/2hours", 9, 7200.0),
        ("1000/d", 1000, 86400.0),
        ("1000/day", 1000, 86400.0),
        (" 60 / MIN ", 60, 60.0),
        ("1000000/s", 1_000_000, 1.0),
    ],
)
def test_parse_rate_spec(text: str, count: int, window: float) -> None:
    spec = parse_rate_spec(text)
    assert (spec.count, spec.window, spec.text) == (count, window, text.strip())


@pytest.mark.parametrize(
    "text",
    ["", "10", "/s", "10/", "0/s", "-1/s", "1.5/s", "10/0s", "10/ms", "10/fortnight", "1000001/s",
     "10/31d", "10/.s", "١٠/s", "10/s/s", "ten/s", "1e3/s"],
)  # fmt: skip
def test_bad_rate_specs(text: str) -> None:
    with pytest.raises(JobError) as info:
        parse_rate_spec(text, "--rate")
    assert str(info.value).startswith("--rate: ")


# --- overrides, max_deletes, describe ------------------------------------------------------


def test_with_overrides(tmp_path: Path) -> None:
    job = load(tmp_path, MINIMAL + "campaigns: [x]\n")
    assert with_overrides(job) == job
    changed = with_overrides(
        job,
        dry_run=True,
        concurrency=3,
        rates=["5/s", "100/min"],
        audit_log="o.jsonl",
        cwd=tmp_path,
    )
    assert changed.run.dry_run is True and changed.run.concurrency == 3
    assert changed.run.rates == (RateSpec(5, 1.0, "5/s"), RateSpec(100, 60.0, "100/min"))
    assert changed.audit_log == tmp_path / "o.jsonl"
    assert with_overrides(job, rates=[]).run.rates == job.run.rates  # no --rate: the job's
    assert with_overrides(job, rates=["none"]).run.rates == ()
    assert with_overrides(changed, dry_run=False).run.dry_run is False


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"concurrency": 0}, "--concurrency: expected an integer from 1 to 1000, got 0"),
        ({"concurrency": 1001}, "--concurrency: "),
        ({"concurrency": True}, "--concurrency: "),
        ({"rates": ["fast"]}, "--rate: expected a rate like"),
        ({"rates": ["1/s"] * 11}, "--rate: given 11 times"),
        ({"audit_log": ""}, "--audit-log: "),
    ],
)
def test_bad_overrides(tmp_path: Path, kwargs: dict[str, object], expected: str) -> None:
    job = load(tmp_path, MINIMAL + "campaigns: [x]\n")
    with pytest.raises(JobError) as info:
        with_overrides(job, **kwargs)  # type: ignore[arg-type]
    assert str(info.value).startswith(expected)


def test_max_deletes_refusal(tmp_path: Path) -> None:
    job = load(tmp_path, MINIMAL + "campaigns: [x]\nrun:\n  max_deletes: 10\n")
    assert max_deletes_refusal(job, 10) is None
    message = max_deletes_refusal(job, 11)
    assert message is not None
    assert "11 campaigns" in message and "(10)" in message
    assert "run.max_deletes" in message and "narrow the selection" in message
    # a dry run previews them all: the run and validate ask the flow before asking this


def test_describe(tmp_path: Path) -> None:
    lines = describe(load_job(FIXTURES / "valid" / "full.yaml", environ=ENV))
    text = "\n".join(lines)
    for part in ("billing-cleanup.v2_test", "https://platform.kore.ai:8443", "cs-from-env",
                 "environment variable KOREAI_CLIENT_SECRET", "6 ids", "exclude: 1 id",
                 "concurrency: 16", "10/s, 600/min, 5/2s (+0.25 s margin)", "7 attempts",
                 "max deletes: 50", "after 3 failed", "dry run: yes", "cleanup.jsonl"):  # fmt: skip
        assert part in text
    assert SECRET not in text
    select = "\n".join(describe(load_job(FIXTURES / "valid" / "select.yaml", environ=ENV)))
    assert "status Stopped, Completed; dialing mode Preview; priority 5; name 'Billing*'" in select
    assert "created before 2025-01-31" in select and "rate: unlimited" in select
    assert "token from environment variable KOREAI_TOKEN" in select and TOKEN not in select


# --- hostile input -------------------------------------------------------------------------


def hostile(tmp_path: Path, data: bytes) -> str:
    """The short message a hostile job file is refused with (bench/job_input.py times it)."""
    message = error(tmp_path, data)
    assert len(message) < 400
    return message


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    message = hostile(tmp_path, b"a: " + b"x" * (2 * 1024 * 1024) + b"\n")
    assert "2,097,156 bytes" in message and "1,048,576" in message


def test_billion_laughs(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    message = hostile(tmp_path, "\n".join(lines).encode())
    assert ":1: a: YAML reads a value starting with '&' as an anchor" in message


def test_deep_nesting(tmp_path: Path) -> None:
    assert "nested more than 20 levels" in hostile(tmp_path, b"[" * 10_000 + b"]" * 10_000)
    block = "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v\n"
    assert "nested more than 20 levels" in hostile(tmp_path, block.encode())


def test_random_bytes(tmp_path: Path) -> None:
    import random

    rng = random.Random(1234)
    for _ in range(20):
        hostile(tmp_path, bytes(rng.randrange(256) for _ in range(2000)))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"version: 1\nname: \xff\n", ":2: not valid UTF-8"),
        (b"version: 1\x00\n", ":1: contains the character U+0000"),
        (b"\x00\x01\x02\x03", "contains the character"),
        ("version: 1\nname: x\n".encode("utf-16"), "not valid UTF-8"),
        (b"a: [\n", "YAML syntax error"),
        (b"a: 'unterminated\n", "YAML syntax error"),
    ],
)
def test_not_yaml_text(tmp_path: Path, data: bytes, expected: str) -> None:
    assert expected in hostile(tmp_path, data)


def test_huge_values_are_quoted_short(tmp_path: Path) -> None:
    long = "z" * 100_000
    assert "…" in hostile(
        tmp_path, (MINIMAL + f"campaigns: [x]\nrun:\n  concurrency: {long}\n").encode()
    )
    assert "…" in hostile(tmp_path, (MINIMAL + f"campaigns: [x]\n{long[:1000]}: 1\n").encode())
    assert "…" in hostile(tmp_path, (MINIMAL + f"campaigns: [{'c' * 300}]\n").encode())
    message = hostile(
        tmp_path, (MINIMAL + "campaigns: [x]\nrun:\n  concurrency: " + "9" * 5000).encode()
    )
    assert "run.concurrency" in message or "not a valid YAML int" in message


def test_unreadable_job_file(tmp_path: Path) -> None:
    with pytest.raises(JobError) as info:
        load_job(tmp_path / "missing.yaml", environ=ENV)
    assert "missing.yaml: cannot read the job file" in str(info.value)
    with pytest.raises(JobError):
        load_job(tmp_path, environ=ENV)  # a directory


def test_job_is_frozen(tmp_path: Path) -> None:
    job = load(tmp_path, MINIMAL + "campaigns: [x]\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.name = "other"  # type: ignore[misc]


def test_a_select_of_protected_statuses_is_warned_about(tmp_path: Path) -> None:
    job = load(tmp_path, MINIMAL + "select: {status: [Active, Stopped]}\n")
    assert job.warnings == (
        "select.status includes Active, which run.protect_status protects: "
        "those campaigns are listed, never deleted",
    )
    quiet = load(tmp_path, MINIMAL + "select: {status: [Active]}\nrun: {protect_status: []}\n")
    assert quiet.run.protect_status == ()
    assert not any("select.status" in warning for warning in quiet.warnings)
    assert quiet.warnings == (
        "run.protect_status is []: no status is protected, so live (Active) campaigns are "
        "deleted; protect them with run.protect_status: [Active]",
    )


def test_api_family_campaign_type_and_answers_are_read(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  account_id: acc-1\n", "  account_id: acc-1\n  api: v2\n  campaign_type: sms\n"
    )
    text += "campaigns: [cd-1]\nanswers:\n  not_found: ['*No such campaign*', '*gone*']\n"
    text += "  rate_limited: '*slow down*'\n"
    job = load(tmp_path, text)
    assert (job.target.api, job.target.campaign_type) == ("v2", "sms")
    assert job.answers.not_found == ("*No such campaign*", "*gone*")
    assert job.answers.rate_limited == ("*slow down*",)
    assert any("answers.not_found: '*No such campaign*'" in line for line in describe(job))
    plain = load(tmp_path, MINIMAL + "campaigns: [cd-1]\n")
    assert (plain.target.api, plain.answers.not_found, plain.answers.rate_limited) == ("v1", (), ())


def test_the_restore_section_names_what_snapshots_lack(tmp_path: Path) -> None:
    text = MINIMAL + "campaigns: [cd-1]\nrestore:\n  queue_name: Default Queue\n"
    text += "  experience_flow_name: Billing Flow\n  dnc_list: Global DNC\n"
    job = load(tmp_path, text)
    assert job.restore == RestoreDefaults("Default Queue", "Billing Flow", "Global DNC")
    assert "restore.queue_name: 'Default Queue' (for campaigns whose snapshot lacks it)" in (
        describe(job)
    )
    partial = load(tmp_path, MINIMAL + "campaigns: [cd-1]\nrestore: {queue_name: Q}\n")
    assert partial.restore == RestoreDefaults(queue_name="Q")
    assert load(tmp_path, MINIMAL + "campaigns: [cd-1]\n").restore == RestoreDefaults()
