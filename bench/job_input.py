"""How long bulkops takes to read a large id file and to refuse hostile job files.

The unit tests check what is read and what the refusal says; how long it takes is a
measurement, kept here so a loaded machine never fails a test. Each figure is the best of
``--repeat`` tries, printed beside the bound the tests once asserted (200,000 ids in 5 s, a
hostile job file refused in 2 s). Exit status 1 when a figure is over its bound.

    .venv/bin/python bench/job_input.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bulkops.errors import JobError
from bulkops.job import load_job
from bulkops.job.idfile import read_ids_file

IDS = 200_000
IDS_BOUND = 5.0  # seconds
HOSTILE_BOUND = 2.0  # seconds, each


def billion_laughs() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines).encode()


HOSTILE: dict[str, bytes] = {
    "oversized (2 MiB)": b"a: " + b"x" * (2 * 1024 * 1024) + b"\n",
    "billion laughs": billion_laughs(),
    "nested 10,000 deep": b"[" * 10_000 + b"]" * 10_000,
    "a 100,000-character value": b"version: 1\nname: " + b"z" * 100_000 + b"\n",
}


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def refuse(path: Path) -> None:
    try:
        load_job(path, environ={})
    except JobError:
        return
    raise SystemExit(f"{path}: a hostile job file was accepted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    over = False
    with tempfile.TemporaryDirectory() as tmp:
        ids = Path(tmp) / "ids.txt"
        ids.write_text("".join(f"cd-{i:08d}\n" for i in range(IDS)), encoding="utf-8")
        rows = [(f"{IDS:,} ids from a file", best_of(args.repeat, lambda: read_ids_file(ids)),
                 IDS_BOUND)]  # fmt: skip
        for name, data in HOSTILE.items():
            job = Path(tmp) / "job.yaml"
            job.write_bytes(data)
            rows.append((f"refused: {name}", best_of(args.repeat, lambda job=job: refuse(job)),
                         HOSTILE_BOUND))  # fmt: skip
    for name, seconds, bound in rows:
        met = seconds < bound
        over |= not met
        print(f"{name:<36} {seconds:8.3f} s   bound {bound:g} s   {'yes' if met else 'NO'}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
