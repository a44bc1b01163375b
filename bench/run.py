"""``make bench``: how close bulkops comes to the ideal, row by row (issue 5).

Each measurement gets a fresh ``bulkops sandbox`` process on an ephemeral
loopback port, seeded with exactly the ids it will delete; each row's
baseline is measured in the same run. Prints one table and writes it, with
the raw figures, the machine, the date and the git commit, to
``bench/results.json``. See bench/README.md for what each row means.

    .venv/bin/python bench/run.py [--quick] [--rows 1,3] [--out bench/results.json]

Exit status: 0 when every measured command ran cleanly (whatever the goals
say), 1 when any run failed or a sandbox saw errors (the table says which).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import BENCH, git_info, machine_info
from rows import ALL_ROWS, Row, run_rows
from runs import QUICK, Bench, Sizes, log

COLUMNS = ("row", "what", "bulkops", "baseline", "ratio/figure", "goal", "met?")
MET = {True: "yes", False: "NO", None: "—"}


def table(rows: list[Row]) -> str:
    cells = [[r.row, r.what, r.bulkops, r.baseline, r.figure, r.goal, MET[r.met]] for r in rows]
    widths = [max(len(c[i]) for c in [list(COLUMNS), *cells]) for i in range(len(COLUMNS))]

    def line(values: list[str]) -> str:
        return " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(list(COLUMNS)), "-+-".join("-" * w for w in widths)]
    for r, c in zip(rows, cells, strict=True):
        out.append(line(c))
        out.extend(f"{'':{widths[0]}}   ! {note}" for note in r.notes)
    return "\n".join(out)


def versions() -> dict[str, str]:
    found = {}
    for name in ("bulkops", "aiohttp", "pyjwt", "tenacity", "pyyaml"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "?"
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="bulkops benchmark (issue 5); see bench/README.md")
    p.add_argument("--quick", action="store_true", help="small smoke version (about a minute)")
    p.add_argument(
        "--rows", default=",".join(ALL_ROWS), help="rows to run, e.g. 1,3,strict (default all)"
    )
    p.add_argument("--out", default=str(BENCH / "results.json"), help="JSON results path")
    p.add_argument("--reps", type=int, help="repetitions of row 1 (default 3, quick 1)")
    p.add_argument(
        "--rate-margin",
        type=float,
        metavar="S",
        help="row 3 jobs' run.rate_margin (default: the job file default)",
    )
    p.add_argument(
        "--keep-work",
        action="store_true",
        help="keep job files, audit logs and outputs under bench/work/",
    )
    args = p.parse_args(argv)
    args.rows = {x.strip() for x in args.rows.split(",") if x.strip()}
    if not args.rows or not args.rows <= set(ALL_ROWS):
        p.error(f"--rows: choose from {ALL_ROWS}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    if args.reps:
        sizes = Sizes(**{**asdict(sizes), "reps": args.reps})
    started = time.monotonic()
    meta: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git": git_info(),
        "machine": machine_info(),
        "versions": versions(),
        "settings": {
            "quick": args.quick,
            "rows": sorted(args.rows),
            **asdict(sizes),
            "rate_margin": args.rate_margin,
        },
    }
    workdir = BENCH / "work" / time.strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True)
    b = Bench(workdir, sizes, args.rate_margin, keep=args.keep_work)
    rows = run_rows(b, args.rows)
    if b.failed or args.keep_work:
        log(f"work files kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    meta["duration_s"] = round(time.monotonic() - started, 1)
    text = table(rows)
    print(
        f"bulkops bench {meta['date']}  commit {meta['git']['commit'][:10]}"
        f"{' (dirty)' if meta['git']['dirty'] else ''}  {meta['machine']['cpus']} CPUs "
        f"shared by client and sandbox  ({meta['duration_s']} s)\n"
    )
    print(text)
    doc = {**meta, "table": text.splitlines(), "rows": [asdict(r) for r in rows]}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}")
    return 1 if b.failed else 0


if __name__ == "__main__":
    sys.exit(main())
