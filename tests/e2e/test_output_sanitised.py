"""Names and messages from a server reach stdout only escaped, in every format.

A campaign named with ESC, BEL, U+202E (which turns the rest of the line around),
U+009B (a one-character CSI) or U+0085 (a line break) must not act on the terminal
or the file that ``list``, a dry run's preview or ``report`` writes: CSV shows it
escaped as the table does, JSON as ``\\u`` escapes that read back to the same name.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.e2e.harness import bulkops, write_job
from tests.e2e.hostile import HostileServer, as_json

HOSTILE = "\x1b[31mred\x07 \u202eevil\u009b2J\u0085next"
CONTROLS = ("\x1b", "\x07", "\u202e", "\u009b", "\u0085")


def listing(n: int) -> tuple[int, bytes]:
    row = {"_id": "cd-1", "name": HOSTILE, "status": "Stopped", "createdAt": "2026-01-01"}
    return as_json({"status": "success", "data": {"results": [row], "hasMore": False}})


def assert_clean(text: str) -> None:
    assert text and not any(c in text for c in CONTROLS), repr(text)


def test_list_csv_and_json_escape_every_control_in_a_name(tmp_path: Path) -> None:
    with HostileServer(list=listing) as srv:
        job = write_job(tmp_path, srv, select={"status": ["Stopped"]})
        shown = bulkops("list", job, "--output", "csv", cwd=tmp_path)
        as_json_ = bulkops("list", job, "--output", "json", cwd=tmp_path)
    assert shown.code == 0 and as_json_.code == 0, shown.stderr + as_json_.stderr
    assert_clean(shown.stdout)
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert rows[0]["name"] == "\\x1b[31mred\\x07 \\u202eevil\\x9b2J\\x85next"
    assert_clean(as_json_.stdout)
    assert json.loads(as_json_.stdout)["campaigns"][0]["name"] == HOSTILE


def test_a_dry_run_preview_and_report_in_json_escape_every_control(tmp_path: Path) -> None:
    refusal = as_json({"errors": [{"msg": HOSTILE}]}, 400)
    with HostileServer(list=listing, delete=lambda n: refusal) as srv:
        job = write_job(tmp_path, srv, select={"status": ["Stopped"]})
        preview = bulkops("run", job, "--dry-run", "--output", "json", cwd=tmp_path)
        logged = bulkops("run", job, "--yes", "--log-format", "json", cwd=tmp_path)
    assert preview.code == 0, preview.stderr
    assert_clean(preview.stdout)
    assert json.loads(preview.stdout)["campaigns"][0]["name"] == HOSTILE
    assert logged.code == 1, logged.stderr  # the DELETE refused with the name: failed
    assert_clean(logged.stderr)
    report = bulkops("report", tmp_path / "audit.jsonl", "--format", "json", cwd=tmp_path)
    assert report.code == 0, report.stderr
    assert_clean(report.stdout)
    json.loads(report.stdout)
