"""The fast JSON path gives what the json module would, and falls back where orjson refuses."""

from __future__ import annotations

import json
import math

import pytest

from bulkops.jsoncodec import MAX_DEPTH, TooDeep, dumps, dumps_line, loads


def test_a_line_is_compact_utf8_with_one_newline() -> None:
    record = {"event": "campaign", "name": "Réunion\u2028", "n": 1, "none": None}
    line = dumps_line(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == record
    assert "é".encode() in line


def test_what_orjson_refuses_still_round_trips() -> None:
    big = {"id": 2**70}
    assert json.loads(dumps_line(big)) == big and json.loads(dumps(big)) == big
    assert math.isnan(loads(b'{"x": NaN}')["x"])


def test_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        loads(b"<html>Bad gateway</html>")


@pytest.mark.parametrize("levels", [65, 1_025, 100_000])
def test_json_nested_deeper_than_the_limit_is_refused_as_a_value_error(levels: int) -> None:
    for raw in (b"[" * levels + b"]" * levels, b'{"a":' * levels + b"1" + b"}" * levels):
        with pytest.raises(TooDeep, match="nested deeper than 64 levels"):
            loads(raw)
        assert issubclass(TooDeep, ValueError)


def test_what_is_read_within_the_limit_can_be_written_back() -> None:
    doc = loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    line = dumps_line({"event": "campaign", "data": {"answer": doc}})
    assert json.loads(line)["data"]["answer"] == doc


def test_a_wide_value_with_more_brackets_than_the_limit_is_read() -> None:
    """More arrays and objects than MAX_DEPTH side by side is shallow: it is read."""
    wide = [{"days": [{"day": "MO"}]} for _ in range(MAX_DEPTH)]
    assert loads(json.dumps(wide).encode()) == wide
    assert loads(json.dumps(wide)) == wide  # text as well as bytes


def test_brackets_inside_strings_do_not_hide_a_value_too_deep() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    for raw in (deep, '{"note": "[[{{", "v": ' + deep + "}"):
        with pytest.raises(TooDeep):
            loads(raw)
        with pytest.raises(TooDeep):
            loads(raw.encode())


def test_brackets_inside_strings_alone_are_no_depth() -> None:
    doc = {"message": "[" * 200 + "{" * 200}
    assert loads(json.dumps(doc).encode()) == doc
