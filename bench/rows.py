"""The rows of issue 5's table, each computed from runs made in the same session."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import bulkops_cmd, write_job
from runs import Bench, log, med, proc_doc
from schedule import ideal_duration, parse_rate

DEFAULT_RATE_MARGIN = 0.0  # run.rate_margin's default

# 1–5: issue 5; strict … restart: issue 11 (rate_rows.py); fastlimit … share: issue 17
ALL_ROWS = ("1", "2", "3", "4", "5", "strict", "jitter", "shared", "redis", "restart",
            "fastlimit", "strict2k", "redis500", "share")  # fmt: skip
LATENCY = 0.1  # row 2's sandbox latency, seconds
IMPORTS = "import aiohttp, jwt"  # what baseline.py loads before its first request
BULKOPS_IMPORTS = IMPORTS + ", yaml, tenacity"  # the libraries bulkops run loads


@dataclass
class Row:
    row: str
    what: str
    bulkops: str
    baseline: str
    figure: str
    goal: str
    met: bool | None  # None: informative, no goal
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} s"


def met_if(ok: bool, problems: list[str]) -> bool:
    return ok and not problems


def rows_throughput(b: Bench, wanted: set[str]) -> list[Row]:
    """Rows 1 and 4: one set of runs, alternating which goes first."""
    n, reps = b.sizes.throughput, b.sizes.reps
    bo: list[dict[str, Any]] = []
    bl: list[dict[str, Any]] = []
    for rep in range(reps):
        order = ("baseline", "bulkops") if rep % 2 == 0 else ("bulkops", "baseline")
        for who in order:
            log(f"row 1: {who} {rep + 1}/{reps}, {n} deletes, concurrency 64")
            if who == "bulkops":
                bo.append(b.bulkops(f"r1-bulkops-{rep}", n))
            else:
                bl.append(b.baseline(f"r1-baseline-{rep}", n))
    problems = [p for r in bo + bl for p in r["problems"]]
    bo_wall = med([r["proc"]["wall_s"] for r in bo])
    bl_wall = med([r["proc"]["wall_s"] for r in bl])
    bo_run = med([r["duration_s"] for r in bo if r["duration_s"] is not None])
    bl_run = med([r["elapsed_s"] for r in bl if r["elapsed_s"] is not None])
    reps_note = f"median of {reps}" if reps > 1 else "1 run"
    rows: list[Row] = []
    if "1" in wanted:
        ratio = bl_wall / bo_wall
        rows.append(
            Row(
                "1",
                f"throughput, {n:,} deletes, c=64, no limit (wall, {reps_note})",
                f"{fmt_s(bo_wall)} (run {fmt_s(bo_run)})",
                f"{fmt_s(bl_wall)} (send {fmt_s(bl_run)})",
                f"{ratio:.2f} (in-process {bl_run / bo_run:.2f})",
                "≥ 0.90",
                met_if(ratio >= 0.90, problems),
                problems,
                {
                    "bulkops": bo,
                    "baseline": bl,
                    "ratio_wall": ratio,
                    "ratio_internal": bl_run / bo_run,
                },
            )
        )
        rows.append(row_curl(b, bo_wall))
    if "4" in wanted:
        bo_us = med([per_request_us(own_cpu(r), r) for r in bo])
        bl_us = med([per_request_us(own_cpu(r), r) for r in bl])
        sb_us = med([per_request_us(r["sandbox_cpu_s"], r) for r in bo])
        # start-up (interpreter, imports) is in both figures; show what is left without it
        bo_start = b.command("cpu-imports-bulkops", [sys.executable, "-c", BULKOPS_IMPORTS]).cpu_s
        bl_start = b.command("cpu-imports-baseline", [sys.executable, "-c", IMPORTS]).cpu_s
        bo_net = med([per_request_us(own_cpu(r) - bo_start, r) for r in bo])
        bl_net = med([per_request_us(own_cpu(r) - bl_start, r) for r in bl])
        notes = [
            f"net of interpreter + library imports ({bo_start:.2f} s / {bl_start:.2f} s CPU): "
            f"bulkops {bo_net:.0f} µs/req, baseline {bl_net:.0f} µs/req",
            f"the sandbox, on the same 2 cores: {sb_us:.0f} µs/req",
        ]
        rows.append(
            Row(
                "4",
                f"CPU per request, row 1 runs ({reps_note})",
                f"{bo_us:.0f} µs/req",
                f"{bl_us:.0f} µs/req",
                f"{bo_us / bl_us:.2f}× baseline",
                "≤ 250 µs",
                met_if(bo_us <= 250, problems),
                notes + problems,
                {
                    "bulkops_us": bo_us,
                    "baseline_us": bl_us,
                    "bulkops_net_us": bo_net,
                    "baseline_net_us": bl_net,
                    "sandbox_us": sb_us,
                },
            )
        )
    return rows


def own_cpu(run: dict[str, Any]) -> float:
    return float(run["proc"]["user_s"] + run["proc"]["sys_s"])


def per_request_us(cpu_s: float, run: dict[str, Any]) -> float:
    """``cpu_s`` spread over the requests the sandbox saw in ``run``, in µs."""
    return cpu_s * 1e6 / (int(run["stats"]["total_requests"]) or 1)


def row_curl(b: Bench, bo_wall: float) -> Row:
    n = b.sizes.curl
    log(f"row 1b: xargs -P 16 curl, {n} deletes")
    res = b.curl("r1-curl", n)
    if res is None:
        return Row(
            "1b",
            "xargs -P 16 curl (informative)",
            "—",
            "skipped",
            "—",
            "—",
            None,
            ["curl or xargs not installed"],
        )
    wall = res["proc"]["wall_s"]
    per_s = n / wall
    bo_per_s = b.sizes.throughput / bo_wall
    return Row(
        "1b",
        f"xargs -P 16 curl, {n:,} deletes (informative)",
        f"{bo_per_s:,.0f} req/s",
        f"{per_s:,.0f} req/s ({fmt_s(wall)})",
        f"bulkops {bo_per_s / per_s:.1f}× curl",
        "—",
        None,
        res["problems"],
        res,
    )


def row_latency(b: Bench) -> list[Row]:
    n, c = b.sizes.latency, 32
    ideal = c / LATENCY
    log(f"row 2: bulkops, {n} deletes, c={c}, sandbox latency {LATENCY} s")
    bo = b.bulkops("r2-bulkops", n, concurrency=c, latency=LATENCY)
    log(f"row 2: baseline, {n} deletes, c={c}, sandbox latency {LATENCY} s")
    bl = b.baseline("r2-baseline", n, concurrency=c, latency=LATENCY)
    problems = bo["problems"] + bl["problems"]
    bo_rate = n / bo["duration_s"] if bo["duration_s"] else 0.0
    bo_wall = n / bo["proc"]["wall_s"]
    bl_rate = n / bl["elapsed_s"] if bl["elapsed_s"] else 0.0
    fig = bo_rate / ideal
    return [
        Row(
            "2",
            f"latency-bound, {n:,} deletes, c={c}, 100 ms: req/s ÷ {ideal:.0f}",
            f"{bo_rate:.0f}/s run, {bo_wall:.0f}/s wall",
            f"{bl_rate:.0f}/s ({bl_rate / ideal:.2f})",
            f"{fig:.3f} (wall {bo_wall / ideal:.3f})",
            "≥ 0.90",
            met_if(fig >= 0.90, problems),
            problems,
            {"bulkops": bo, "baseline": bl, "ideal_per_s": ideal},
        )
    ]


def row_rate(b: Bench, sub: str, n: int, rates: tuple[str, ...]) -> Row:
    log(f"row {sub}: bulkops, {n} deletes, rate {', '.join(rates)} (sandbox and job)")
    bo = b.bulkops(f"r{sub}-bulkops", n, concurrency=64, rates=rates, keep_arrivals=True)
    arrivals = bo["stats"]["arrivals"]
    ideal = ideal_duration(len(arrivals), [parse_rate(r) for r in rates])
    # N/W allows N starts in any W + rate_margin; the best a run may do with its margin
    margin = DEFAULT_RATE_MARGIN if b.rate_margin is None else b.rate_margin
    allowed = ideal_duration(len(arrivals), [(c, w + margin) for c, w in map(parse_rate, rates)])
    actual = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    fig = ideal / actual if actual else 0.0
    achieved = (len(arrivals) - 1) / actual if actual else 0.0
    r429 = bo["stats"]["rate_limited"]
    problems = bo.pop("problems")
    note = (
        f"against the schedule rate_margin {margin:g} s allows ({allowed:.2f} s): "
        f"{allowed / actual if actual else 0.0:.3f}"
    )
    return Row(
        sub,
        f"rate accuracy, {n:,} deletes, {' + '.join(rates)}: ideal ÷ actual duration",
        f"{actual:.2f} s, {achieved:.1f}/s, {r429}×429",
        f"ideal {ideal:.2f} s",
        f"{fig:.3f}, {r429}×429",
        "≥ 0.97, 0×429",
        met_if(fig >= 0.97 and r429 == 0, problems),
        [note, *problems],
        {
            "bulkops": bo,
            "ideal_s": ideal,
            "allowed_s": allowed,
            "actual_s": actual,
            "achieved_per_s": achieved,
        },  # fmt: skip
    )


def rows_scale(b: Bench) -> list[Row]:
    floor = b.command("rss-floor", [sys.executable, "-c", BULKOPS_IMPORTS])
    rows = []
    runs: dict[int, float] = {}
    for n in b.sizes.scale:
        ids = b.ids(n)
        log(f"row 5: validate and run, {n} ids")
        job = write_job(
            b.workdir / f"validate-{n}.yaml",
            host="http://127.0.0.1:9",
            ids_file=ids,
            concurrency=64,
        )
        val = b.command(f"validate-{n}", [*bulkops_cmd(), "validate", str(job)])
        run = b.bulkops(f"r5-run-{n}", n)
        runs[n] = run["proc"]["maxrss_mb"]
        problems = [p for p in [val.problem(), *run["problems"]] if p]
        peak = max(val.maxrss_mb, run["proc"]["maxrss_mb"])
        last = n == max(b.sizes.scale)
        rows.append(
            Row(
                "5",
                f"peak RSS, {n:,} ids: validate / run (c=64, no limit)",
                f"{val.maxrss_mb:.0f} / {runs[n]:.0f} MB (run {fmt_s(run['proc']['wall_s'])})",
                f"{floor.maxrss_mb:.0f} MB (imports only)",
                f"{peak:.0f} MB",
                "< 150 MB at 200k" if last else "—",
                met_if(peak < 150, problems) if n >= 200_000 else None,
                problems,
                {"validate": proc_doc(val), "run": run},
            )
        )
    if len(runs) > 1:
        lo, hi = min(runs), max(runs)
        per_id = (runs[hi] - runs[lo]) * 2**20 / (hi - lo)
        rows[-1].notes.append(f"run RSS growth {lo:,}→{hi:,} ids: {per_id:.0f} bytes/id")
        rows[-1].data["run_growth_bytes_per_id"] = per_id
    rows.append(row_startup(b))
    return rows


def row_startup(b: Bench) -> Row:
    k = b.sizes.help_reps
    log(f"row 5: bulkops --help ×{k}")
    helps = [b.command(f"help-{i}", [*bulkops_cmd(), "--help"]) for i in range(k)]
    bare = [b.command(f"python-{i}", [sys.executable, "-c", "pass"]) for i in range(k)]
    t = med([m.wall_s for m in helps])
    problems = [p for m in helps if (p := m.problem())]
    return Row(
        "5",
        f"start-up: bulkops --help (median of {k})",
        f"{t:.3f} s",
        f"{med([m.wall_s for m in bare]):.3f} s (python -c pass)",
        f"{t:.3f} s",
        "< 0.3 s",
        met_if(t < 0.3, problems),
        problems,
        {"help": [proc_doc(m) for m in helps]},
    )


def run_rows(b: Bench, wanted: set[str]) -> list[Row]:
    """The wanted rows in table order; a row that crashes becomes a failed row, not a crash."""
    plan: list[tuple[str, Callable[[], list[Row]]]] = []
    if wanted & {"1", "4"}:
        plan.append(("1/4", lambda: rows_throughput(b, wanted)))
    if "2" in wanted:
        plan.append(("2", lambda: row_latency(b)))
    if "3" in wanted:
        plan.append(("3a", lambda: [row_rate(b, "3a", b.sizes.rate_single, ("100/s",))]))
        rates = ("50/s", "400/10s")
        plan.append(("3b", lambda: [row_rate(b, "3b", b.sizes.rate_double, rates)]))
        # issue 2's acceptance figure: a strict 20 per rolling second, 200 ids
        plan.append(("3c", lambda: [row_rate(b, "3c", 200, ("20/s",))]))
    if "5" in wanted:
        plan.append(("5", lambda: rows_scale(b)))
    from rate_rows import rate_rows  # it builds on this module's Row

    plan += rate_rows(b, wanted)
    from limit_rows import limit_rows  # issue 17's rows

    plan += limit_rows(b, wanted)
    rows: list[Row] = []
    for name, make in plan:
        try:
            rows += make()
        except Exception as exc:  # noqa: BLE001 - shown in the table, and the exit status is 1
            b.failed = True
            log(f"row {name} crashed: {exc!r}")
            rows.append(Row(name, "(the benchmark itself failed)", "—", "—", "—", "—", False,
                            [f"bench error: {exc!r}"]))  # fmt: skip
    order = {"1": 0, "1b": 1, "1/4": 1, "2": 2, "3a": 3, "3b": 4, "3c": 5, "4": 6, "5": 7}
    order |= {name: 8 + i for i, name in enumerate(ALL_ROWS[5:])}
    return sorted(rows, key=lambda r: order[r.row])  # stable: row 5's sizes stay in order
