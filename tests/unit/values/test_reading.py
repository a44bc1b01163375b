"""What bulkops reads is bounded: regular files only, absurd lines skipped, stdin ids capped."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import pytest

from bulkops.errors import JobError
from bulkops.job.idfile import read_ids_file, read_ids_stream
from bulkops.reading import NOT_REGULAR, bounded_lines, open_regular
from bulkops.records import history
from bulkops.records.history import BadLine, iter_records

RUN = b'{"event":"run_started","run_id":"r1"}\n'


def test_a_huge_log_line_is_skipped_without_being_held_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "MAX_LINE_BYTES", 64 << 10)  # as 8 MiB against a 300 MB line
    log = tmp_path / "audit.jsonl"
    with open(log, "wb") as f:
        f.write(RUN)
        f.write(b'{"event":"x","pad":"' + b"x" * (64 << 20) + b'"}\n')
        f.write(RUN)
    tracemalloc.start()
    try:
        items = list(iter_records(log))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # the line is 64 MiB: read in chunks of 1 MiB
    assert [n for n, _ in items] == [1, 2, 3]
    bad = items[1][1]
    assert isinstance(bad, BadLine) and bad.problem == "line too long to be a record"
    assert items[2][1] == {"event": "run_started", "run_id": "r1"}


def test_bounded_lines_reads_past_a_long_line_in_chunks() -> None:
    stream = io.BytesIO(b"short\n" + b"y" * 50 + b"\nnext\nlast, no newline")
    assert list(bounded_lines(stream, 20)) == [b"short\n", None, b"next\n", b"last, no newline"]


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_only_regular_files_are_opened_and_a_fifo_never_blocks(tmp_path: Path, kind: str) -> None:
    path = {"fifo": tmp_path / "fifo", "device": Path("/dev/zero"), "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(OSError) as caught:
        open_regular(path)
    assert caught.value.strerror == NOT_REGULAR
    with pytest.raises(OSError):
        list(iter_records(path))
    with pytest.raises(JobError, match=f"campaigns_file: cannot read {path}: not a regular"):
        read_ids_file(path)


def test_a_stream_of_ids_is_refused_past_its_cap_without_reading_further() -> None:
    stream = io.BytesIO(b"# ids\ncd-1\n\ncd-1\ncd-2\ncd-3\n" + b"cd-9\n" * 10_000)
    with pytest.raises(
        JobError, match=r"--campaigns-file -:6: more than 3 ids \(run.max_deletes\)"
    ):
        read_ids_stream(stream, "--campaigns-file -", max_ids=3)
    assert stream.tell() < 100  # stopped at the line one too many
    assert read_ids_stream(io.BytesIO(b"cd-1\ncd-2\n"), "x", max_ids=2) == ["cd-1", "cd-2"]
