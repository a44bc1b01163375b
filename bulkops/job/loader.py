"""The job file: YAML in, a frozen, fully validated ``Job`` out.

Everything downstream trusts a ``Job``: every check that needs no network is
made here, once, and every failure is a ``JobError`` naming the file, the line
and the field, e.g. ``jobs/x.yaml:12: run.concurrency: expected an integer
from 1 to 1000, got 'abc'``. Parsing hostile YAML safely is ``yamlsafe``'s
job; campaign ids and id files are ``idfile``'s.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import stat
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from bulkops.errors import JobError
from bulkops.ids import id_problem, validate_campaign_id
from bulkops.job.answers import ANSWERS_KEYS, read_answers
from bulkops.job.campaign_set import campaign_set
from bulkops.job.idfile import read_ids_file
from bulkops.job.overrides import audit_path
from bulkops.job.problems import attempt, collecting, problem_count
from bulkops.job.restore_section import RESTORE_KEYS, read_restore
from bulkops.job.run_settings import RUN_KEYS, read_run_settings
from bulkops.job.select_section import SELECT_KEYS, read_selection
from bulkops.job.yaml_hints import comment_notes
from bulkops.job.yamlsafe import Map, Scalar, Section, Value, parse_document, read_limited
from bulkops.model import (
    BUILT_IN_ONLY,
    NO_RESTORE_DEFAULTS,
    Auth,
    Job,
    RunSettings,
    Secret,
    Selection,
    Target,
)
from bulkops.text import excerpt

CAMPAIGN_TYPES = ("voice", "sms")
APIS = ("v1", "v2")
MAX_SECRET_BYTES = 64 * 1024
_TOP_KEYS = (
    *("version", "name", "target", "auth", "campaigns"),
    *("campaigns_file", "select", "exclude", "run", "audit_log", "answers", "restore"),
)
_Campaigns = tuple[tuple[str, ...], Selection | None, tuple[str, ...], tuple[str, ...]]
_NO_CAMPAIGNS: _Campaigns = ((), None, (), ())  # what the loader goes on with after a problem
_TARGET_KEYS = ("host", "app_id", "account_id", "campaign_type", "api")
_SECRET_KEYS = ("client_secret_env", "client_secret_file", "token_env", "token_file")
_AUTH_KEYS = ("client_id", "client_id_env", *_SECRET_KEYS, "subject", "token_ttl")
_NAME = re.compile(r"[a-z0-9_.-]{1,100}")
# What an environment variable's name looks like: upper-case words joined by '_', each
# with at most one digit inside (K8S) and any at its end (V2). A random token (a secret
# written in the wrong field) does not, and is refused without being quoted.
_ENV_NAME = re.compile(r"_*[A-Z]+[0-9]?[A-Z]*[0-9]*(?:_+[A-Z0-9][A-Z]*[0-9]?[A-Z]*[0-9]*)*_*")
MAX_ENV_NAME = 64
_HOST = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>[0-9]{1,5}))?",
    re.ASCII,
)


def load_job(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
) -> Job:
    """Read, validate and freeze the job file at ``path``; JobError on any problem.

    Environment variables named by ``auth`` are looked up in ``environ``
    (default ``os.environ``); secret files, ``campaigns_file`` and a relative
    ``audit_log`` (default ``audit/<name>.jsonl``) are relative to the job
    file's directory, so a run finds its history from whatever directory it starts in.
    ``campaign_ids`` is ``campaigns`` then ``campaigns_file``, duplicates
    removed (first kept, counted in ``warnings``), ``exclude`` applied.
    """
    job_path, source = Path(path), os.fspath(path)
    data = read_limited(job_path, source)
    root = parse_document(data, source)
    notes = comment_notes(data, source)
    if root is None:
        raise JobError(f"{source}: the job file is empty; it should start with `version: 1`")
    with collecting():  # every problem at once, not one per attempt
        top = Value(root, "", source).section(_TOP_KEYS, "job settings (version: 1, name: ...)")
        attempt(lambda: _version(top), None)
        name = attempt(lambda: _name(top), "job")
        # each part is read even when an earlier one failed, in the order of the file's sections
        target = attempt(lambda: _target(top.need("target").section(_TARGET_KEYS)), None)
        environ = os.environ if environ is None else environ
        auth = attempt(lambda: _auth(top.need("auth"), environ, job_path.parent), None)
        exclude = frozenset(top.read("exclude", _id_list, list[str]()))
        ids, select, id_warnings, excluded = attempt(
            lambda: _campaigns(top, job_path.parent, exclude), _NO_CAMPAIGNS
        )
        audit_log = top.read("audit_log", lambda v: v.string(max_len=1024), f"audit/{name}.jsonl")
        run = attempt(
            lambda: read_run_settings(
                top.read("run", lambda v: v.section(RUN_KEYS), None), environ
            ),
            RunSettings(),
        )
        answers = attempt(
            lambda: read_answers(top.read("answers", lambda v: v.section(ANSWERS_KEYS), None)),
            BUILT_IN_ONLY,
        )
        restore = attempt(
            lambda: read_restore(top.read("restore", lambda v: v.section(RESTORE_KEYS), None)),
            NO_RESTORE_DEFAULTS,
        )
    assert target is not None and auth is not None  # else collecting() raised
    warnings = (*_nothing_protected(run), *_protected_selection(select, run))
    return Job(
        version=1,
        name=name,
        target=target,
        auth=auth,
        campaign_ids=ids,
        select=select,
        exclude=exclude,
        run=run,
        audit_log=audit_path(audit_log, job_path.parent),
        path=job_path,
        sha256=hashlib.sha256(data).hexdigest(),
        warnings=(*notes, *id_warnings, *warnings),
        campaign_warnings=id_warnings,
        removed_by_exclude=excluded,
        answers=answers,
        restore=restore,
    )


def _nothing_protected(run: RunSettings) -> tuple[str, ...]:
    """``protect_status: []`` is allowed, but never silently: live campaigns will be deleted."""
    if run.protect_status:
        return ()
    how = " (stopped first: run.stop_before_delete)" if run.stop_before_delete else ""
    return (
        "run.protect_status is []: no status is protected, so live (Active) campaigns are "
        f"deleted{how}; protect them with run.protect_status: [Active]",
    )


def _protected_selection(select: Selection | None, run: RunSettings) -> tuple[str, ...]:
    """A warning when the filters ask for statuses that protect_status never lets go."""
    kept = [s for s in select.status if s in run.protect_status] if select else []
    if not kept:
        return ()
    return (
        f"select.status includes {', '.join(kept)}, which run.protect_status protects: "
        "those campaigns are listed, never deleted",
    )


def _version(top: Section) -> None:
    version = top.need("version")
    if version.integer(0) != 1:
        version.fail("only version 1 is supported")


def _name(top: Section) -> str:
    value = top.need("name")
    name = value.string(max_len=100)
    if not _NAME.fullmatch(name):
        value.fail(f"{excerpt(name)}: use only a-z, 0-9, '_', '.' and '-'")
    return name


def _target(target: Section) -> Target:
    host = target.need("host")
    try:
        url = _host(host.string(max_len=300))
    except ValueError as exc:
        host.fail(str(exc))
    app_id, account_id = (_id_text(target.need(key)) for key in ("app_id", "account_id"))
    kind, api = (_choice(target.get(key), allowed) for key, allowed in _CHOICES)
    return Target(url, app_id, account_id, kind or "voice", api or "v1")


_CHOICES = (("campaign_type", CAMPAIGN_TYPES), ("api", APIS))


def _choice(value: Value | None, allowed: tuple[str, ...]) -> str | None:
    if value is not None and value.string() not in allowed:
        value.fail(f"{value.got()} is not supported; allowed: {', '.join(allowed)}")
    return value.string() if value is not None else None


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
    if not isinstance(name, str) or len(name) > MAX_ENV_NAME or not _ENV_NAME.fullmatch(name):
        value.fail(  # never quoted: it may be the secret itself
            "expected the name of an environment variable (upper-case letters, digits and '_', "
            "like KOREAI_CLIENT_SECRET); what is written there does not look like one and is "
            "not shown: the secret itself must not be written in the job file"
        )
    text = environ.get(name)
    if not text:
        value.fail(f"environment variable {name} is {'empty' if text == '' else 'not set'}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # os.environ keeps undecodable bytes as lone surrogates
        value.fail(f"environment variable {name} is not UTF-8 text")
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


def _campaigns(top: Section, base: Path, exclude: frozenset[str]) -> _Campaigns:
    """campaign_ids (de-duplicated, exclude applied), select, warnings, and the excluded ids."""
    explicit = "campaigns" in top or "campaigns_file" in top
    if "select" in top:
        if explicit:
            top.fail_at_key(
                "select",
                "cannot be combined with campaigns or campaigns_file: "
                "give ids or a filter, not both",
            )
        return (), read_selection(top.need("select").section(SELECT_KEYS, "filters")), (), ()
    if not explicit:
        top.fail("the job selects no campaigns: give campaigns, campaigns_file or select")
    problems_before = problem_count()
    ids = top.read("campaigns", _id_list, list[str]())
    if file := top.get("campaigns_file"):
        ids += attempt(lambda: read_ids_file(base / file.string(max_len=1024), file.where), [])
    if not ids and problem_count() == problems_before:  # not empty because of a bad id
        given = top.get("campaigns") or top.need("campaigns_file")
        given.fail("the job selects no campaigns: campaigns and campaigns_file hold no ids")
    chosen = campaign_set(ids, exclude, among="the campaigns")
    return chosen.ids, None, chosen.warnings, chosen.excluded


def _id_list(value: Value) -> list[str]:
    ids = []
    for item in value.items():  # each bad id is told, not just the first
        if (campaign_id := attempt(partial(_one_id, item), None)) is not None:
            ids.append(campaign_id)
    return ids


def _one_id(item: Value) -> str:
    if not isinstance(item.node, Scalar):
        item.fail(f"expected a campaign id, got {item.got()}")
    return validate_campaign_id(item.raw, item.where)
