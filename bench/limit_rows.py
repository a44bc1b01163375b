"""Issue 17's rows: what a rate limit costs, measured side by side with its baseline in one run.

fastlimit  4,000 deletes with ``rate: 100000/s`` (never reached) against bare aiohttp, and
           ``rate: none``: the limiter's cost per request (wall, in-process, CPU µs a request)
strict2k   a strict sandbox at 2,000/s, 4,000 deletes: refusals and the share of the limit
           (bare aiohttp, unlimited, in the same run shows what the machine can do)
redis500   the same through Redis at 500/s
share      a strict sandbox at 60/s while another client sends 20/s steadily: bulkops'
           refusals per second after the first, and its share of the remaining 40/s
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import aiohttp
from baseline import mint
from harness import APP_ID, CLIENT_ID, SandboxProcess, child_env, write_job
from rate_rows import _env, _figure_row, _Runs, row_redis_with
from rows import Row, fmt_s, met_if, own_cpu, per_request_us
from runs import Bench, log

N = 4000


def row_fastlimit(b: Bench) -> Row:
    log(f"row fastlimit: {N} deletes, bare aiohttp / rate: none / rate: 100000/s")
    base = b.baseline("fastlimit-baseline", N)
    free = b.bulkops("fastlimit-none", N)
    limited = b.bulkops("fastlimit-100k", N, rates=("100000/s",))
    problems = [p for r in (base, free, limited) for p in r["problems"]]
    inproc = base["elapsed_s"] / limited["duration_s"] if limited["duration_s"] else 0.0
    inproc_free = base["elapsed_s"] / free["duration_s"] if free["duration_s"] else 0.0
    wall = base["proc"]["wall_s"] / limited["proc"]["wall_s"]
    cpu = {k: per_request_us(own_cpu(r), r) for k, r in (("none", free), ("100k", limited))}
    return Row(
        "fastlimit", f"{N:,} deletes, c=64, rate: 100000/s (in-process, 1 run each)",
        f"{fmt_s(limited['duration_s'])} (rate none {fmt_s(free['duration_s'])})",
        f"{fmt_s(base['elapsed_s'])} bare aiohttp",
        f"{inproc:.2f} (none {inproc_free:.2f}; wall {wall:.2f})", "≥ 0.90",
        met_if(inproc >= 0.90, problems),
        [f"CPU a request: {cpu['100k']:.0f} µs with the limit, {cpu['none']:.0f} µs without",
         *problems],
        {"baseline": base, "none": free, "limited": limited, "cpu_us": cpu},
    )  # fmt: skip


def row_fast_strict(b: Bench, name: str, rate: str, redis_url: str | None = None) -> Row:
    """A strict sandbox at ``rate``; the figure is against the limit N/W itself."""
    here, ids = b.rundir(name), b.ids(N)
    count = int(rate.split("/")[0])
    log(f"row {name}: {N} deletes at strict {rate}" + (" through Redis" if redis_url else ""))
    base = b.baseline(f"{name}-baseline", N)
    with SandboxProcess(here, ids, rates=(rate,)) as sb:
        job = write_job(here / "job.yaml", host=sb.url, ids_file=ids, concurrency=64,
                        rates=(rate,), rate_margin=0.0)  # fmt: skip
        runs = _Runs(here)
        extra = {"BULKOPS_RATE_STORE": redis_url} if redis_url else {}
        runs.start("bulkops", job, _env(here / "state", **extra))
        problems = runs.wait()
        stats = sb.stats()
    problems += sb.problems + base["problems"]
    what = f"{N:,} deletes, strict {rate}" + (", one Redis" if redis_url else "")
    row = _figure_row(name, what, stats, [job.with_suffix(".jsonl")], count, 1.0, 0.90,
                      problems, N, of_limit=True)  # fmt: skip
    bare = N / base["elapsed_s"] if base["elapsed_s"] else 0.0
    row.baseline += f"; bare aiohttp, unlimited: {bare:.0f}/s"
    b.done(here, row.notes)
    return row


def row_redis500(b: Bench) -> Row:
    return row_redis_with(b, lambda url: row_fast_strict(b, "redis500", "500/s", url), "redis500")


class OtherClient:
    """Another integration on the account: a DELETE every 1/``rate`` s, whatever the answers
    (ids that do not exist), counting its refusals; in a thread with its own loop."""

    def __init__(self, url: str, rate: float) -> None:
        self.url, self.rate = url, rate
        self.refused: list[float] = []
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> OtherClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        secret = child_env()["KOREAI_CLIENT_SECRET"]
        base = f"{self.url}/agentassist/api/v1/public/{APP_ID}/campaign"
        async with aiohttp.ClientSession() as session:
            next_at = time.monotonic()
            while not self._stop.is_set():
                headers = {"auth": mint(CLIENT_ID, secret), "iid": APP_ID,
                           "accountId": "acc-sandbox"}  # fmt: skip
                url = f"{base}/other-{uuid.uuid4().hex[:8]}?campaignType=voice"
                asyncio.ensure_future(self._one(session, url, headers))
                next_at += 1 / self.rate
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _one(self, session: aiohttp.ClientSession, url: str, headers: Any) -> None:
        self.sent += 1
        try:
            async with session.delete(url, headers=headers) as resp:
                await resp.read()
                if resp.status == 429:
                    self.refused.append(time.monotonic())
        except aiohttp.ClientError:
            pass


def row_share(b: Bench) -> Row:
    here, n, limit, other_rate = b.rundir("share"), 600, 60, 20.0
    ids = b.ids(n)
    log(f"row share: {n} deletes, strict {limit}/s, another client at {other_rate:.0f}/s")
    with SandboxProcess(here, ids, rates=(f"{limit}/s",)) as sb:
        job = write_job(here / "job.yaml", host=sb.url, ids_file=ids, concurrency=16,
                        rates=(f"{limit}/s",), rate_margin=0.0)  # fmt: skip
        with OtherClient(sb.url, other_rate) as other:
            time.sleep(1.0)  # the other client is already there when bulkops starts
            runs, samples = _Runs(here), []
            proc = runs.start("bulkops", job, _env(here / "state"))
            while proc.poll() is None:  # one sample a second: deleted and refused so far
                stats = sb.stats()
                samples.append((time.monotonic(), len(stats["deleted_ids"]),
                                stats["rate_limited"] - len(other.refused)))  # fmt: skip
                time.sleep(1.0)
            problems = runs.wait()
        stats = sb.stats()
    problems += sb.problems
    samples = samples[first_sending(samples) :]  # the process starts before it sends
    refusals = [b2[2] - b1[2] for b1, b2 in zip(samples, samples[1:], strict=False)]
    later = refusals[1:] or [0]
    deleted = [s[1] for s in samples]
    steady = steady_rate_of(samples)
    share = steady / (limit - other_rate)
    if len(stats["deleted_ids"]) != n:
        problems.append(f"sandbox deleted {len(stats['deleted_ids'])} of {n}")
    row = Row(
        "share", f"{n} deletes, strict {limit}/s, another client at {other_rate:.0f}/s steadily",
        f"{steady:.1f}/s, most refusals in a later second: {max(later)}",
        f"remaining {limit - other_rate:.0f}/s", f"{share:.2f}, ≤ {max(later)}/s refused",
        "≥ 0.85, ≤ 1/s", met_if(share >= 0.85 and max(later) <= 1, problems), problems,
        {"samples": samples, "refusals_per_s": refusals, "deleted": deleted,
         "other_refused": len(other.refused), "other_sent": other.sent},
    )  # fmt: skip
    b.done(here, problems)
    return row


def first_sending(samples: list[tuple[float, int, int]]) -> int:
    """The sample that starts bulkops' first second of sending (deletes or refusals)."""
    for i, (b1, b2) in enumerate(zip(samples, samples[1:], strict=False)):
        if b2[1] > b1[1] or b2[2] > b1[2]:
            return i
    return 0


def steady_rate_of(samples: list[tuple[float, int, int]]) -> float:
    """Deletes a second from the end of the first second to the last sample that grew."""
    if len(samples) < 3:
        return 0.0
    (t0, d0, _), (t1, d1, _) = samples[1], samples[-1]
    return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0


def limit_rows(b: Bench, wanted: set[str]) -> list[tuple[str, Any]]:
    plan: list[tuple[str, Any]] = []
    for name, make in (("fastlimit", row_fastlimit),
                       ("strict2k", lambda b: row_fast_strict(b, "strict2k", "2000/s")),
                       ("redis500", row_redis500), ("share", row_share)):  # fmt: skip
        if name in wanted:
            plan.append((name, lambda make=make: [make(b)]))
    return plan
