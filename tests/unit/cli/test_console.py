"""What a person (or a log shipper) reads on stderr: text or JSON lines, quiet, transient lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bulkops.cli.console import Console


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_lines_prefix_warnings_and_errors_only() -> None:
    out = io.StringIO()
    console = Console(out)
    console.info("selected", "selected 3 campaigns", selected=3)
    console.warn("short_secret", "the client secret is short")
    console.error("aborted", "the token was refused")
    console.result("summary", "completed: deleted 3")
    assert out.getvalue().splitlines() == [
        "selected 3 campaigns",
        "warning: the client secret is short",
        "error: the token was refused",
        "completed: deleted 3",
    ]


def test_json_lines_are_one_object_each_with_level_event_and_fields() -> None:
    out = io.StringIO()
    console = Console(out, json_lines=True)
    console.info("selected", "selected 3 campaigns", selected=3, list_calls=1)
    console.warn("audit_bad_line", "audit.jsonl:4: not JSON; ignored", line=4)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["level"], r["event"], r["message"]) for r in records] == [
        ("info", "selected", "selected 3 campaigns"),
        ("warning", "audit_bad_line", "audit.jsonl:4: not JSON; ignored"),
    ]
    assert records[0]["selected"] == 3 and records[0]["list_calls"] == 1
    assert records[1]["line"] == 4
    assert all(r["ts"].endswith("Z") for r in records)


def test_json_lines_keep_text_readable_and_never_break_on_odd_values() -> None:
    out = io.StringIO()
    Console(out, json_lines=True).info("x", "Résumé\nnext", path=Path("/var/log/a.jsonl"))
    (line,) = out.getvalue().splitlines()  # the newline in the message stays escaped
    record = json.loads(line)
    assert record["message"] == "Résumé\nnext" and "Résumé" in line
    assert record["path"] == "/var/log/a.jsonl"


def test_quiet_keeps_warnings_errors_and_results() -> None:
    out = io.StringIO()
    console = Console(out, quiet=True)
    console.info("selected", "selected 3 campaigns")
    console.warn("max_deletes", "a real run would be refused")
    console.error("aborted", "the token was refused")
    console.result("summary", "completed: deleted 3")
    assert out.getvalue().splitlines() == [
        "warning: a real run would be refused",
        "error: the token was refused",
        "completed: deleted 3",
    ]


def test_a_transient_line_is_cleared_before_the_next_line_and_only_once() -> None:
    out = Terminal()
    console = Console(out)
    assert console.is_tty
    console.show_transient("3/10  deleted 3")
    console.warn("interrupted", "interrupted")
    console.info("next", "after")
    assert out.getvalue() == (
        "\r\x1b[2K3/10  deleted 3" + "\r\x1b[2K" + "warning: interrupted\n" + "after\n"
    )
    assert not console.transient


def test_a_plain_stream_is_not_a_terminal() -> None:
    assert not Console(io.StringIO()).is_tty
