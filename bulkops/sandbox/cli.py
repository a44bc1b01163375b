"""``bulkops sandbox``: arguments, the start banner, the ready file, serving until a signal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from bulkops.sandbox.config import (
    CREATED_ID_PLACES,
    DIALECTS,
    FAULT_NAMES,
    ID_FIELDS,
    REDIRECT_STATUSES,
    RETRY_AFTER_MODES,
    SandboxConfig,
    parse_rate,
)
from bulkops.sandbox.flips import parse_flip
from bulkops.sandbox.server import Sandbox, check_loopback

T = TypeVar("T")

EPILOG = """\
example:
  bulkops sandbox --port 8765 --campaigns 200 --rate 20/s --rate 400/10s \\
      --error-rate 503=0.05 --latency 0.02 --ready-file /tmp/sandbox.json
  then point a job's target.host at http://127.0.0.1:8765 with the printed
  client id, app id and account id, and export the printed KOREAI_CLIENT_SECRET.
  Faults can be changed while it runs:
  curl -X POST localhost:8765/_sandbox/config -d '{"drop_rate": 0.1}'
  Rehearse against the documented platform's answers:
  bulkops sandbox --dialect kore --rate-limit-status 400 --error-rate rate_limit=0.05 \\
      --error-rate failure_body=0.02 --echo-token
  Rehearse a long run in which campaigns go live: 3 go Active 20 s after the first call,
  and one more whenever you say so:
  bulkops sandbox --flip-active 20:3
  curl -X POST localhost:8765/_sandbox/campaigns/CAMPAIGN_ID/status -d '{"status": "Active"}'
  GET /_sandbox/stats lists each change (status_changes) and each delete's time (deleted_at).
"""


def read_ids(path: str) -> tuple[str, ...]:
    """Ids from a file: one a line; blank lines and ``#`` comments ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {exc}") from None
    ids = (re.sub(r"(^|\s)#.*", "", line).strip() for line in lines)
    return tuple(i for i in ids if i)


def _error_rate(spec: str) -> tuple[int | str, float]:
    status, _, p = spec.partition("=")
    try:
        return (status if status in FAULT_NAMES else int(status)), float(p)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected STATUS=P or FAULT=P like 503=0.1 or failure_body=0.02, got {spec!r}"
        ) from None


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """``parse`` as an argparse type: its ValueError becomes a usage error."""

    def convert(spec: str) -> T:
        try:
            return parse(spec)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def build_parser(prog: str = "bulkops sandbox") -> argparse.ArgumentParser:
    """The ``bulkops sandbox`` arguments; every dest is a SandboxConfig field, or
    ``ready_file``/``quiet``."""
    d = SandboxConfig()
    p = argparse.ArgumentParser(
        prog=prog,
        description="Local Kore.ai-compatible campaign API for rehearsals (loopback only).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add("--host", default=d.host, help="loopback address to bind (default %(default)s)")
    add("--port", type=_port, default=8765, help="0 = any free port (default %(default)s)")
    add("--campaigns", type=int, default=50, help="made-up campaigns (default %(default)s)")
    add("--seed", type=int, default=d.seed, help="PRNG seed for data and faults")
    add("--seed-ids", type=read_ids, default=(), metavar="FILE", help="also create these ids")
    add("--client-id", default=d.client_id)
    add("--client-secret", default=d.client_secret, help="throwaway; printed on start")
    add("--app-id", default=d.app_id)
    add("--account-id", default=d.account_id)
    add("--campaign-type", default=d.campaign_type)
    add("--rate", dest="rates", action="append", type=_argument(parse_rate), default=[],
        metavar="N/W",
        help="strict rolling window, repeatable: 20/s, 60/min, 1800/hour, 5/2s")  # fmt: skip
    add("--retry-after-mode", choices=RETRY_AFTER_MODES, default=d.retry_after_mode)
    add("--latency", type=float, default=0.0, metavar="SECONDS")
    add("--latency-jitter", type=float, default=0.0, metavar="SECONDS")
    add("--arrival-jitter", type=float, default=0.0, metavar="SECONDS",
        help="hold each request a random 0..SECONDS before it is counted")  # fmt: skip
    add("--more-app-id", dest="more_app_ids", action="append", default=[], metavar="ID",
        help="another app of the same account, repeatable (one rate limit for all)")  # fmt: skip
    add("--flip-active", dest="flip_active", action="append", type=_argument(parse_flip),
        default=[], metavar="AFTER:N",
        help="N campaigns go Active AFTER seconds after the first call, repeatable")  # fmt: skip
    add("--error-rate", dest="error_rates", action="append", type=_error_rate, default=[],
        metavar="STATUS=P", help="answer STATUS (or a fault: " + ", ".join(FAULT_NAMES)
        + ") with probability P, repeatable")  # fmt: skip
    add("--drop-rate", type=float, default=0.0, metavar="P", help="close without answering")
    add("--hang-rate", type=float, default=0.0, metavar="P", help="hold, then answer 504")
    add("--hang-seconds", type=float, default=d.hang_seconds, metavar="S")
    add("--non-json-rate", type=float, default=0.0, metavar="P", help="502 with an HTML body")
    add("--id-field", choices=ID_FIELDS, default=d.id_field, help="id key in list results")
    add("--dialect", choices=DIALECTS, default=d.dialect,
        help="kore: answer like the documented platform (errors[] bodies, a missing campaign "
        "is a 400, rate-limit refusals by wording only, no Retry-After)")  # fmt: skip
    add("--rate-limit-status", type=int, default=d.rate_limit_status, metavar="STATUS",
        help="status of rate-limit refusals (default %(default)s)")  # fmt: skip
    add("--redirect-status", type=int, choices=REDIRECT_STATUSES, default=d.redirect_status,
        help="status of the redirect fault (default %(default)s)")  # fmt: skip
    add("--echo-token", action="store_true", help="echo the request's auth token in errors")
    add("--pad-messages", type=int, default=0, metavar="N", help="add N characters to errors")
    add("--contact-list", dest="contact_lists", action="append", default=[], metavar="NAME",
        help="a contact list that exists besides the seeded ones (a Create may name it), "
        "repeatable")  # fmt: skip
    add("--ready-after", type=float, default=d.ready_after, metavar="SECONDS",
        help="a created campaign stays Preparing this long, then is Ready "
        "(default %(default)s)")  # fmt: skip
    add("--created-id-at", choices=CREATED_ID_PLACES, default=d.created_id_at,
        help="where a Create's answer puts the new id (default: data._id; data.campId for a "
        "Preview campaign with --dialect kore)")  # fmt: skip
    add("--tls-cert", default="", metavar="PEM", help="serve https with this certificate")
    add("--tls-key", default="", metavar="PEM", help="its private key, if not in --tls-cert")
    add("--ready-file", type=_new_file, metavar="PATH",
        help="write JSON {url, port, ...} to this new file once listening; removed on exit",
    )  # fmt: skip
    add("--quiet", action="store_true", help="print nothing")
    return p


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is no TCP port: give 0 to 65535")
    return port


def _new_file(path: str) -> str:
    if not path:
        raise argparse.ArgumentTypeError("must not be empty")
    if os.path.lexists(path):
        raise argparse.ArgumentTypeError(
            f"{path} exists; the sandbox writes (and later removes) only a file it creates: "
            "remove it or name a new one"
        )
    return path


class ReadyFileError(Exception):
    """The ready file could not be created as a new file."""


def _write_ready(path: str, doc: Mapping[str, Any]) -> tuple[int, int, bytes]:
    """Creates ``path`` whole (never replacing what is there); returns what identifies it."""
    directory = os.path.dirname(path) or "."
    text = json.dumps(doc).encode()
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sandbox-ready.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(text)
                info = os.fstat(f.fileno())
            os.link(tmp, path)  # unlike a rename, fails on a file that appeared meanwhile
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise ReadyFileError(f"cannot create the ready file {path}: {exc.strerror}") from exc
    return info.st_dev, info.st_ino, text


def _remove_ready(path: str, ours: tuple[int, int, bytes]) -> None:
    """Removes ``path`` only while it is still the file ``_write_ready`` created (an inode
    number is reused at once: the content must match too)."""
    with contextlib.suppress(OSError):
        info = os.lstat(path)
        if (info.st_dev, info.st_ino) == ours[:2] and Path(path).read_bytes() == ours[2]:
            os.unlink(path)


def _banner(sb: Sandbox) -> str:
    c = sb.config
    rates = ", ".join(f"{n}/{w:g}s" for n, w in sb.state.settings.rates) or "none"
    return (
        f"bulkops sandbox listening on {sb.url} ({len(sb.state.store)} campaigns, "
        f"rate limits: {rates})\n"
        f"  client id:     {c.client_id}\n  client secret: {c.client_secret}\n"
        f"  app id:        {c.app_id}\n  account id:    {c.account_id}\n"
        f"  export KOREAI_CLIENT_SECRET={c.client_secret}\n"
        f"  stats: {sb.url}/_sandbox/stats   (Ctrl-C to stop)"
    )


async def _serve(config: SandboxConfig, ready_file: str | None, quiet: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Sandbox(config) as sb:
        if not quiet:
            print(_banner(sb), flush=True)
        ours = None
        if ready_file:
            c = sb.config
            ours = _write_ready(ready_file, {
                "url": sb.url, "port": sb.port, "client_id": c.client_id,
                "app_id": c.app_id, "account_id": c.account_id, "pid": os.getpid(),
            })  # fmt: skip
        try:
            await stop.wait()
        finally:
            if ready_file and ours:
                _remove_ready(ready_file, ours)
    if not quiet:
        s = sb.stats
        summary = f"{len(s.deleted_ids)} deleted, {s.rate_limited} rate-limited"
        print(f"sandbox stopped: {s.total_requests} requests, {summary}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``bulkops sandbox ARGS``: serve until SIGINT/SIGTERM, then return 0."""
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    ready_file, quiet = args.pop("ready_file"), args.pop("quiet")
    try:
        config = SandboxConfig(**args)
        check_loopback(config.host)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        return asyncio.run(_serve(config, ready_file, quiet))
    except ReadyFileError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the port is taken
        print(
            f"{parser.prog}: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr
        )
        return 1
