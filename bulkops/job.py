"""The job file: YAML in, a frozen, fully validated ``Job`` out.

Everything downstream trusts a ``Job``: every check that needs no network is
made here, once, and every failure is a ``JobError`` naming the file, the line
and the field, e.g. ``jobs/x.yaml:12: run.concurrency: expected an integer
from 1 to 1000, got 'abc'``. Parsing hostile YAML safely is ``yamlsafe``'s
job; campaign ids and id files are ``idfile``'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import ipaddress
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bulkops.errors import JobError
from bulkops.idfile import id_problem, read_ids_file, validate_campaign_id
from bulkops.model import (
    DEFAULT_RATES,
    Auth,
    CreatedBefore,
    Job,
    RunSettings,
    Secret,
    Selection,
    Target,
)
from bulkops.ratelimit import RateSpec
from bulkops.yamlsafe import (
    Map,
    Scalar,
    Section,
    Value,
    excerpt,
    parse_document,
    read_limited,
    suggest,
)

__all__ = [
    "CAMPAIGN_TYPES",
    "DEFAULT_RATES",
    "Auth",
    "CreatedBefore",
    "Job",
    "RunSettings",
    "Secret",
    "Selection",
    "Target",
    "check_max_deletes",
    "describe",
    "load_job",
    "parse_rate_spec",
    "read_ids_file",
    "validate_campaign_id",
    "with_overrides",
]


CAMPAIGN_TYPES = ("voice",)
STATUSES = (
    *("Active", "Completed", "Ready", "Paused"),
    *("Preparing", "Stopped", "Scheduled", "Rescheduled"),
)
DIALING_MODES = ("Agentless", "Preview", "Progressive")
MAX_RATE_COUNT = 1_000_000
MAX_RATE_WINDOW = 30 * 86400.0  # seconds
MAX_RATES = 10
MAX_SECRET_BYTES = 64 * 1024

_TOP_KEYS = (
    *("version", "name", "target", "auth", "campaigns"),
    *("campaigns_file", "select", "exclude", "run", "audit_log"),
)
_TARGET_KEYS = ("host", "app_id", "account_id", "campaign_type")
_SECRET_KEYS = ("client_secret_env", "client_secret_file", "token_env", "token_file")
_AUTH_KEYS = ("client_id", "client_id_env", *_SECRET_KEYS, "subject", "token_ttl")
_SELECT_KEYS = ("status", "dialing_mode", "priority", "name", "created_before")
_RUN_KEYS = [f.name for f in dataclasses.fields(RunSettings) if f.name != "rates"] + ["rate"]
_NAME = re.compile(r"[a-z0-9_.-]{1,100}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>[0-9]{1,5}))?",
    re.ASCII,
)
_RATE = re.compile(
    r"\s*([0-9]{1,9})\s*/\s*([0-9]{0,9}(?:\.[0-9]{1,9})?)\s*([a-z]+)\s*", re.I | re.A
)
_UNITS = {
    unit: seconds
    for seconds, units in (
        (1.0, "s sec secs second seconds"),
        (60.0, "m min mins minute minutes"),
        (3600.0, "h hr hrs hour hours"),
        (86400.0, "d day days"),
    )
    for unit in units.split()
}
_AGE = re.compile(r"([0-9]{1,6})([smhdw])", re.ASCII)
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MAX_AGE = timedelta(days=100 * 366)
_RATE_EXAMPLE = "like 10/s, 60/min, 1800/hour or 5/2s"


def load_job(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Job:
    """Read, validate and freeze the job file at ``path``; JobError on any problem.

    Environment variables named by ``auth`` are looked up in ``environ``
    (default ``os.environ``); secret files and ``campaigns_file`` are relative
    to the job file's directory; a relative ``audit_log`` (default
    ``audit/<name>.jsonl``) is relative to ``cwd`` (default the current one).
    ``campaign_ids`` is ``campaigns`` then ``campaigns_file``, duplicates
    removed (first kept, counted in ``warnings``), ``exclude`` applied.
    """
    job_path, source = Path(path), os.fspath(path)
    data = read_limited(job_path, source)
    root = parse_document(data, source)
    if root is None:
        raise JobError(f"{source}: the job file is empty; it should start with `version: 1`")
    top = Value(root, "", source).section(_TOP_KEYS, "job settings (version: 1, name: ...)")
    version = top.need("version")
    if version.integer(0) != 1:
        version.fail("only version 1 is supported")
    name_value = top.need("name")
    name = name_value.string(max_len=100)
    if not _NAME.fullmatch(name):
        name_value.fail(f"{excerpt(name)}: use only a-z, 0-9, '_', '.' and '-'")
    # checked in the order of the file's sections, so the first error is the first problem
    target = _target(top.need("target").section(_TARGET_KEYS))
    auth = _auth(top.need("auth"), os.environ if environ is None else environ, job_path.parent)
    exclude = frozenset(top.read("exclude", _id_list, list[str]()))
    ids, select, warnings = _campaigns(top, job_path.parent, exclude)
    audit_log = top.read("audit_log", lambda v: v.string(max_len=1024), f"audit/{name}.jsonl")
    return Job(
        version=1,
        name=name,
        target=target,
        auth=auth,
        campaign_ids=ids,
        select=select,
        exclude=exclude,
        run=_run(top.read("run", lambda v: v.section(_RUN_KEYS), None)),
        audit_log=_audit_path(audit_log, cwd),
        path=job_path,
        sha256=hashlib.sha256(data).hexdigest(),
        warnings=warnings,
    )


def _target(target: Section) -> Target:
    host = target.need("host")
    try:
        url = _host(host.string(max_len=300))
    except ValueError as exc:
        host.fail(str(exc))
    app_id, account_id = (_id_text(target.need(key)) for key in ("app_id", "account_id"))
    kind = target.get("campaign_type")
    if kind and kind.string() not in CAMPAIGN_TYPES:
        kind.fail(f"{kind.got()} is not supported; allowed: {', '.join(CAMPAIGN_TYPES)}")
    return Target(url, app_id, account_id, kind.string() if kind else "voice")


def _id_text(value: Value) -> str:
    """An id that goes into a URL path or a header: no '/', whitespace or control characters."""
    text = value.string()
    if problem := id_problem(text):
        value.fail(f"{excerpt(text)} {problem}")
    return text


def _host(text: str) -> str:
    """``text`` normalised to scheme://host[:port]; ValueError saying what is wrong."""
    example = "; expected scheme://host[:port], e.g. https://platform.kore.ai"
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise ValueError(f"{excerpt(text)} is not a URL{example}")
    scheme, rest = scheme.lower(), rest.removesuffix("/")
    if scheme not in ("https", "http"):
        raise ValueError(f"scheme {excerpt(scheme)} is not supported; use https")
    if "@" in rest:
        raise ValueError("must not contain a user name or password; credentials belong in auth")
    if any(c in rest for c in "/?#"):
        raise ValueError(f"must not have a path, query or fragment (bulkops adds those){example}")
    match = _HOST.fullmatch(rest)
    port = match["port"] if match else None
    if not match or ".." in rest or (port and not 1 <= int(port) <= 65535):
        raise ValueError(f"{excerpt(text)} is not a valid host[:port]{example}")
    host = match["host"].lower()
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{excerpt(host)} is not a valid IPv6 address") from None
    if scheme == "http" and not _is_loopback(host.strip("[]")):
        raise ValueError("plain http is allowed only for localhost, 127.x.x.x and [::1]; use https")
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auth(value: Value, environ: Mapping[str, str], base: Path) -> Auth:
    """Client id and exactly one secret source; secrets themselves never come from the job file."""
    node = value.node
    if not isinstance(node, Map):  # not quoted: it may be the secret itself
        value.fail("expected a mapping (client_id, client_secret_env, ...)")
    for key, use in (
        ("client_secret", "client_secret_env or client_secret_file"),
        ("token", "token_env or token_file"),
    ):
        if key in node.entries:  # the message never includes the value
            raise JobError(
                f"{value.source}:{node.key_lines[key]}: auth.{key}: secrets must not "
                f"be written in the job file; use {use}"
            )
    auth = value.section(_AUTH_KEYS)
    sources = [key for key in _SECRET_KEYS if key in auth]
    if len(sources) != 1:
        auth.fail(
            ("give only one of" if sources else "no secret given: set one of")
            + " client_secret_env, client_secret_file (to mint tokens), token_env, token_file"
            " (a pre-made token)"
        )
    secret, origin = _secret(auth.need(sources[0]), environ, base)
    is_token = sources[0].startswith("token")
    return Auth(
        client_id=_client_id(auth, environ, required=not is_token),
        client_secret=None if is_token else secret,
        token=secret if is_token else None,
        subject=auth.read("subject", lambda v: v.string(), "bulkops"),
        token_ttl=auth.read("token_ttl", lambda v: v.number(10, 86400), 300.0),
        secret_source=f"{'token' if is_token else 'client secret'} from {origin}",
    )


def _client_id(auth: Section, environ: Mapping[str, str], *, required: bool) -> str:
    given = [key for key in ("client_id", "client_id_env") if key in auth]
    if len(given) != 1:
        if not given and not required:
            return ""  # a pre-made token needs no client id
        problem = "give only one of" if given else "missing: give"
        auth.fail(f"{problem} client_id (the JWT app's client id) or client_id_env")
    value = auth.need(given[0])
    text = _env_value(value, environ) if given[0] == "client_id_env" else value.string()
    if wrong := id_problem(text):
        value.fail(f"the client id {wrong}")
    return text


def _env_value(value: Value, environ: Mapping[str, str]) -> str:
    name = value.raw
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):  # not quoted: a secret?
        value.fail(
            "expected the name of an environment variable (letters, digits and '_'); "
            "the secret itself must not be written in the job file"
        )
    text = environ.get(name)
    if not text:
        value.fail(f"environment variable {name} is {'empty' if text == '' else 'not set'}")
    return text


def _secret(value: Value, environ: Mapping[str, str], base: Path) -> tuple[Secret, str]:
    """The secret and, for people, where it came from.

    A secret file must be readable by its owner only: a file that group or
    others may access (mode & 0o077) is refused with a ``chmod 600`` hint, as
    ssh does for private keys. One trailing newline is stripped; empty is an error.
    """
    if value.field.endswith("_env"):
        return Secret(_env_value(value, environ)), f"environment variable {value.raw}"
    path = base / value.string(max_len=1024)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            value.fail(f"{path} is not a regular file")
        if os.name == "posix" and info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            value.fail(f"{path} may be read by other users (mode {mode:o}); run: chmod 600 {path}")
        with open(path, "rb") as f:
            raw = f.read(MAX_SECRET_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
        value.fail(f"cannot read {path}: {reason}")
    if len(raw) > MAX_SECRET_BYTES:
        value.fail(f"{path} is larger than {MAX_SECRET_BYTES:,} bytes: not a secret")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        value.fail(f"{path} is not UTF-8 text")
    text = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    if not text:
        value.fail(f"{path} is empty")
    return Secret(text), f"file {path}"


def _campaigns(
    top: Section, base: Path, exclude: frozenset[str]
) -> tuple[tuple[str, ...], Selection | None, tuple[str, ...]]:
    """campaign_ids (de-duplicated, exclude applied), select, and warnings."""
    explicit = "campaigns" in top or "campaigns_file" in top
    if "select" in top:
        if explicit:
            top.fail_at_key(
                "select",
                "cannot be combined with campaigns or campaigns_file: "
                "give ids or a filter, not both",
            )
        return (), _selection(top.need("select").section(_SELECT_KEYS, "filters")), ()
    if not explicit:
        top.fail("the job selects no campaigns: give campaigns, campaigns_file or select")
    ids = top.read("campaigns", _id_list, list[str]())
    if file := top.get("campaigns_file"):
        ids += read_ids_file(base / file.string(max_len=1024), file.where)
    if not ids:
        given = top.get("campaigns") or top.need("campaigns_file")
        given.fail("the job selects no campaigns: campaigns and campaigns_file hold no ids")
    unique: dict[str, None] = {}
    first_duplicate = None
    for i in ids:
        if i in unique:
            first_duplicate = first_duplicate or i
        unique[i] = None
    warnings = []
    if first_duplicate is not None:
        warnings.append(
            f"{len(ids) - len(unique)} duplicate campaign ids removed "
            f"(first: {excerpt(first_duplicate)})"
        )
    if unknown := len(exclude.difference(unique)):
        warnings.append(f"{unknown} exclude ids are not among the campaigns (a typo?)")
    kept = tuple(i for i in unique if i not in exclude)
    if not kept:
        warnings.append("exclude removes every campaign: there is nothing to do")
    return kept, None, tuple(warnings)


def _id_list(value: Value) -> list[str]:
    ids = []
    for item in value.items():
        if not isinstance(item.node, Scalar):
            item.fail(f"expected a campaign id, got {item.got()}")
        ids.append(validate_campaign_id(item.raw, item.where))
    return ids


def _selection(select: Section) -> Selection:
    if not len(select):
        select.fail("has no filter: it would select every campaign; add a filter (e.g. status)")
    return Selection(
        status=select.read("status", lambda v: _choices(v, STATUSES), ()),
        dialing_mode=select.read("dialing_mode", lambda v: _choices(v, DIALING_MODES), ()),
        priority=select.read(
            "priority",
            lambda v: tuple(dict.fromkeys(i.integer(1, 5) for i in v.items(scalar_ok=True))),
            (),
        ),
        name=select.read("name", lambda v: v.string(), None),
        created_before=select.read("created_before", _created_before, None),
    )


def _choices(value: Value, allowed: tuple[str, ...]) -> tuple[str, ...]:
    chosen = []
    for item in value.items(scalar_ok=True):
        text = item.string()
        if text not in allowed:
            item.fail(
                f"{excerpt(text)} is not allowed{suggest(text, allowed)}; "
                f"choose from {', '.join(allowed)}"
            )
        chosen.append(text)
    return tuple(dict.fromkeys(chosen))


def parse_age(text: str) -> timedelta | None:
    """An age like 12h, 30d or 8w (units s, m, h, d, w); None if ``text`` is not one."""
    age = _AGE.fullmatch(text.strip())
    return timedelta(seconds=int(age[1]) * _AGE_UNITS[age[2]]) if age else None


def _created_before(value: Value) -> CreatedBefore:
    """An ISO date (midnight UTC) or datetime (naive = UTC), or an age like 30d."""
    raw, text = value.raw, value.node.text if isinstance(value.node, Scalar) else ""
    if isinstance(raw, str) and (delta := parse_age(raw)) is not None:
        if not timedelta(0) < delta <= _MAX_AGE:
            value.fail(f"{excerpt(raw)}: an age must be more than 0 and at most 100 years")
        return CreatedBefore(age=delta, text=text)
    if isinstance(raw, str):
        iso = raw.strip()
        iso = iso[:-1] + "+00:00" if iso[-1:] in ("Z", "z") else iso
        with contextlib.suppress(ValueError):  # not ISO: reported below with the rest
            raw = date.fromisoformat(iso) if len(iso) == 10 else datetime.fromisoformat(iso)
    if isinstance(raw, datetime):
        try:
            utc = raw.astimezone(timezone.utc) if raw.tzinfo else raw.replace(tzinfo=timezone.utc)
        except OverflowError:  # 0001-01-01T00:00+05:00 is before the year 1 in UTC
            value.fail(f"{excerpt(text)} is out of range")
        return CreatedBefore(instant=utc, text=text)
    if isinstance(raw, date):
        midnight = datetime(raw.year, raw.month, raw.day, tzinfo=timezone.utc)
        return CreatedBefore(instant=midnight, text=text)
    hint = " (add a unit, e.g. 30d)" if isinstance(raw, int) else ""
    value.fail(
        "expected an ISO date (2025-01-31), datetime (2025-01-31T12:00:00Z) or an age "
        f"like 12h, 30d, 8w; got {value.got()}{hint}"
    )


def _run(run: Section | None) -> RunSettings:
    if run is None:
        return RunSettings()
    d = RunSettings()
    settings = RunSettings(
        concurrency=run.read("concurrency", lambda v: v.integer(1, 1000), d.concurrency),
        rates=run.read("rate", _rates, d.rates),
        rate_margin=run.read("rate_margin", lambda v: v.number(0, 10), d.rate_margin),
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
    )
    if settings.backoff_max < settings.backoff_initial:
        low, high = settings.backoff_max, settings.backoff_initial
        if maximum := run.get("backoff_max"):
            maximum.fail(f"{low:g} is less than run.backoff_initial ({high:g})")
        run.need("backoff_initial").fail(
            f"{high:g} is more than run.backoff_max ({low:g}, the default)"
        )
    return settings


def _seconds(most: float) -> Callable[[Value], float]:
    return lambda v: v.number(0, most, lo_open=True)


def _rates(value: Value) -> tuple[RateSpec, ...]:
    """One spec, a list of at most MAX_RATES, or ``none`` / ``[]``: no rate limit at all."""
    if isinstance(value.raw, str):
        if value.raw.strip().lower() == "none":
            return ()
        return (parse_rate_spec(value.raw, value.where),)
    items = list(value.items())
    if len(items) > MAX_RATES:
        value.fail(f"{len(items)} specs; at most {MAX_RATES} are allowed")
    return tuple(parse_rate_spec(item.string(max_len=100), item.where) for item in items)


def parse_rate_spec(text: str, field: str = "run.rate") -> RateSpec:
    """``N/W``: at most N requests started in any window W, e.g. 10/s, 60/min, 5/2s.

    W is an optional positive number and a unit: s/sec/second(s), m/min/minute(s),
    h/hr/hour(s), d/day(s). N is 1 to 1,000,000; the window at most 30 days.
    ``RateSpec.text`` keeps ``text`` (surrounding whitespace removed).
    """
    match = _RATE.fullmatch(text) if isinstance(text, str) else None
    unit = _UNITS.get(match[3].lower()) if match else None
    if not match or not unit or match[2] == ".":
        raise JobError(f"{field}: expected a rate {_RATE_EXAMPLE}, got {excerpt(text)}")
    count, window = int(match[1]), (float(match[2]) if match[2] else 1.0) * unit
    if not 1 <= count <= MAX_RATE_COUNT:
        raise JobError(f"{field}: {excerpt(text)}: the count must be from 1 to {MAX_RATE_COUNT:,}")
    if not 0 < window <= MAX_RATE_WINDOW:
        raise JobError(f"{field}: {excerpt(text)}: the window must be more than 0, at most 30 days")
    return RateSpec(count, window, text.strip())


def _audit_path(text: str, cwd: Path | None) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else (cwd or Path.cwd()) / path


def with_overrides(
    job: Job,
    *,
    dry_run: bool | None = None,
    concurrency: int | None = None,
    rates: Sequence[str] | None = None,
    audit_log: str | None = None,
    cwd: Path | None = None,
) -> Job:
    """``job`` with the command line's flags applied; None (or no rates) keeps the job's.

    ``rates`` replaces the job's whole list; ``["none"]`` turns limiting off.
    A relative ``audit_log`` is relative to ``cwd`` (default the current one).
    """
    run = job.run
    if dry_run is not None:
        run = dataclasses.replace(run, dry_run=dry_run)
    if concurrency is not None:
        if (
            isinstance(concurrency, bool)
            or not isinstance(concurrency, int)
            or not (1 <= concurrency <= 1000)
        ):
            raise JobError(
                f"--concurrency: expected an integer from 1 to 1000, got {excerpt(concurrency)}"
            )
        run = dataclasses.replace(run, concurrency=concurrency)
    if rates:
        if len(rates) > MAX_RATES:
            raise JobError(f"--rate: given {len(rates)} times; at most {MAX_RATES}")
        off = [t.strip().lower() for t in rates] == ["none"]
        specs = () if off else tuple(parse_rate_spec(t, "--rate") for t in rates)
        run = dataclasses.replace(run, rates=specs)
    path = job.audit_log
    if audit_log is not None:
        if not audit_log or any(ord(c) < 0x20 for c in audit_log):
            raise JobError(f"--audit-log: expected a file path, got {excerpt(audit_log)}")
        path = _audit_path(audit_log, cwd)
    return dataclasses.replace(job, run=run, audit_log=path)


def check_max_deletes(job: Job, count: int) -> None:
    """JobError when a real run would delete more than ``run.max_deletes`` campaigns."""
    cap = job.run.max_deletes
    if not job.run.dry_run and count > cap:
        raise JobError(
            f"{count:,} campaigns are selected, more than run.max_deletes ({cap:,}); nothing "
            f"was deleted. Raise run.max_deletes in {job.path} or narrow the selection."
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
        f"target: {t.host}  app {t.app_id}  account {t.account_id}  type {t.campaign_type}",
        f"auth: client id {a.client_id or '(none)'}; {a.secret_source}; subject {a.subject}; "
        f"token ttl {a.token_ttl:g} s",
        _describe_selection(job),
        f"exclude: {len(job.exclude):,} ids",
        f"concurrency: {run.concurrency}",
        f"rate: {rate} (+{run.rate_margin:g} s margin)" if run.rates else "rate: unlimited",
        f"retries: at most {run.max_attempts} attempts, backoff {run.backoff_initial:g} s to "
        f"{run.backoff_max:g} s, Retry-After up to {run.max_retry_after:g} s, "
        f"timeout {run.timeout:g} s",
        f"max deletes: {run.max_deletes:,}",
        f"halt: {halt}",
        f"dry run: {'yes' if run.dry_run else 'no'}",
        f"audit log: {job.audit_log}",
    ]


def _describe_selection(job: Job) -> str:
    s = job.select
    if s is None:
        return f"campaigns: {len(job.campaign_ids):,} ids (de-duplicated, exclude applied)"
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
