"""Hostile-input-proof YAML for job files: bytes in, a tree of located nodes out.

Only what ``yaml.safe_load`` understands is accepted, and less: no anchors or
aliases (no "billion laughs"), at most ``MAX_DEPTH`` levels of nesting (checked
while composing, so a 10,000-deep ``[[[...]]]`` never reaches Python's
recursion limit), no duplicate keys, string keys only, standard scalar tags
only, and files of at most ``MAX_JOB_BYTES``. Every failure is a ``JobError``
that names the file and line and quotes at most ``EXCERPT_CHARS`` of input.

``Reader`` turns nodes into typed values with the same kind of messages:
``jobs/x.yaml:12: run.concurrency: expected an integer from 1 to 1000, got 'abc'``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bulkops.errors import JobError

MAX_JOB_BYTES = 1024 * 1024
MAX_DEPTH = 20
EXCERPT_CHARS = 60

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, quoted, escaped rendering of ``value`` for an error message."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return repr(text) if isinstance(value, str) else text


def suggest(word: str, choices: Collection[str]) -> str:
    """' (did you mean X?)' when a choice is close to ``word``, else ''."""
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


@dataclass(frozen=True)
class Scalar:
    value: object  # str, int, float, bool, None, date or datetime
    line: int  # 1-based
    text: str  # as written in the file


@dataclass(frozen=True)
class Seq:
    items: tuple[YNode, ...]
    line: int


@dataclass(frozen=True)
class Map:
    entries: dict[str, YNode]
    key_lines: dict[str, int]
    line: int


YNode = Scalar | Seq | Map


class _Refused(Exception):
    """Raised inside the composer; turned into a JobError with the file name."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


class _JobLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses anchors, aliases and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: object) -> Node | None:  # type: ignore[override]
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise _Refused("aliases are not allowed in job files (found an anchor or alias)", line)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_limited(path: Path, source: str, what: str = "job file") -> bytes:
    """The file's bytes, refusing anything over ``MAX_JOB_BYTES`` before reading it all."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JOB_BYTES + 1)
            if len(data) > MAX_JOB_BYTES:
                size = max(len(data), _size(f.fileno()))
                raise JobError(
                    f"{source}: the {what} is {size:,} bytes; at most {MAX_JOB_BYTES:,} "
                    "(1 MiB) are allowed: is this the right file?"
                )
    except OSError as exc:
        raise JobError(f"{source}: cannot read the {what}: {exc.strerror or exc}") from exc
    return data


def _size(fd: int) -> int:
    import os

    try:
        return os.fstat(fd).st_size
    except OSError:
        return 0


def parse_document(data: bytes, source: str) -> YNode | None:
    """The single YAML document in ``data`` as located nodes (None when empty)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise JobError(
            f"{source}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
            "job files must be saved as UTF-8 text"
        ) from None
    try:
        node = yaml.compose(text, Loader=_JobLoader)  # type: ignore[arg-type]
    except _Refused as exc:
        raise JobError(f"{source}:{exc.line}: {exc.problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise JobError(
            f"{source}:{line}: contains the character U+{exc.character:04X}, which YAML "
            "does not allow: job files must be plain text"
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise JobError(_syntax_message(source, exc)) from None
    except yaml.YAMLError as exc:
        raise JobError(f"{source}: not valid YAML: {excerpt(str(exc), 120)}") from None
    return None if node is None else _convert(node, source)


def _syntax_message(source: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
    problem = exc.problem or exc.context or "not valid YAML"
    return f"{where}: YAML syntax error: {problem[:120]}"


def _convert(node: Node, source: str) -> YNode:
    line = node.start_mark.line + 1
    if isinstance(node, ScalarNode):
        return Scalar(_scalar_value(node, source), line, node.value)
    if isinstance(node, SequenceNode):
        _check_tag(node, _TAG + "seq", source)
        return Seq(tuple(_convert(item, source) for item in node.value), line)
    assert isinstance(node, MappingNode)
    _check_tag(node, _TAG + "map", source)
    entries: dict[str, YNode] = {}
    key_lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if not (isinstance(key_node, ScalarNode) and key_node.tag == _TAG + "str"):
            shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
            raise JobError(f"{source}:{key_line}: keys must be names, got {excerpt(shown)}")
        key = key_node.value
        if key in entries:
            raise JobError(
                f"{source}:{key_line}: key {excerpt(key)} appears twice "
                f"(first on line {key_lines[key]}); keep one"
            )
        key_lines[key] = key_line
        entries[key] = _convert(value_node, source)
    return Map(entries, key_lines, line)


def _check_tag(node: Node, default: str, source: str) -> None:
    if node.tag != default:
        raise JobError(
            f"{source}:{node.start_mark.line + 1}: the YAML tag {excerpt(node.tag)} "
            "is not allowed in job files"
        )


def _scalar_value(node: ScalarNode, source: str) -> object:
    line = node.start_mark.line + 1
    if node.tag not in _SCALAR_TAGS:
        raise JobError(f"{source}:{line}: the YAML tag {excerpt(node.tag)} is not allowed")
    if node.tag == _TAG + "str":
        return node.value
    try:
        return SafeConstructor().construct_object(node)
    except Exception:  # noqa: BLE001 - PyYAML's constructors fail in many ways on odd input
        # e.g. 2025-13-45 looks like a date to YAML but is none; `!!bool maybe`; 5000 digits.
        # The value is not quoted: it might be a secret written where it must not be.
        kind = node.tag.rsplit(":", 1)[-1]
        raise JobError(
            f"{source}:{line}:{node.start_mark.column + 1}: the value here is not a valid "
            f"YAML {kind}; quote it if it is meant as text"
        ) from None


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    return excerpt(value)


class Reader:
    """Typed access to located nodes; every failure names file, line and field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, line: int | None, field: str, problem: str) -> NoReturn:
        where = f"{self.source}:{line}" if line else self.source
        raise JobError(f"{where}: {field}: {problem}")

    def got(self, node: YNode) -> str:
        if isinstance(node, Seq):
            return "a list"
        if isinstance(node, Map):
            return "a mapping"
        return _kind(node.value)

    def mapping(self, node: YNode, field: str, allowed: Collection[str]) -> Map:
        """``node`` as a mapping whose keys are all in ``allowed``."""
        if not isinstance(node, Map):
            self.fail(node.line, field, f"expected a mapping of settings, got {self.got(node)}")
        for key in node.entries:
            if key not in allowed:
                hint = suggest(key, allowed) or f"; allowed: {', '.join(sorted(allowed))}"
                self.fail(node.key_lines[key], field, f"unknown key {excerpt(key)}{hint}")
        return node

    def items(self, node: YNode, field: str, *, scalar_ok: bool = False) -> Iterator[YNode]:
        """The items of a list (or, when ``scalar_ok``, a single scalar as one item)."""
        if isinstance(node, Seq):
            yield from node.items
        elif scalar_ok and isinstance(node, Scalar) and node.value is not None:
            yield node
        else:
            self.fail(node.line, field, f"expected a list, got {self.got(node)}")

    def string(self, node: YNode, field: str, *, max_len: int = 256) -> str:
        value = node.value if isinstance(node, Scalar) else None
        if not isinstance(value, str):
            hint = " (quote it)" if isinstance(value, int | float) else ""
            self.fail(node.line, field, f"expected a string, got {self.got(node)}{hint}")
        if not value:
            self.fail(node.line, field, "must not be empty")
        if len(value) > max_len:
            self.fail(node.line, field, f"{len(value)} characters long; at most {max_len}")
        if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
            self.fail(node.line, field, f"contains a control character: {excerpt(value)}")
        return value

    def integer(self, node: YNode, field: str, lo: int, hi: int | None = None) -> int:
        value = node.value if isinstance(node, Scalar) else None
        if not isinstance(value, int) or isinstance(value, bool) or not _within(value, lo, hi):
            self.fail(node.line, field, f"expected {_range('an integer', lo, hi)}, got "
                      f"{self.got(node)}")
        return value

    def number(
        self, node: YNode, field: str, lo: float, hi: float, *, lo_open: bool = False
    ) -> float:
        value = node.value if isinstance(node, Scalar) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value) if abs(value) < 1e300 else math.inf
            above = number > lo if lo_open else number >= lo
            if math.isfinite(number) and above and number <= hi:
                return number
        low = f"more than {lo:g}" if lo_open else f"at least {lo:g}"
        self.fail(node.line, field, f"expected a number {low} and at most {hi:g}, got "
                  f"{self.got(node)}")

    def boolean(self, node: YNode, field: str) -> bool:
        value = node.value if isinstance(node, Scalar) else None
        if not isinstance(value, bool):
            self.fail(node.line, field, f"expected true or false, got {self.got(node)}")
        return value


def _within(value: int, lo: int, hi: int | None) -> bool:
    return value >= lo and (hi is None or value <= hi)


def _range(what: str, lo: int, hi: int | None) -> str:
    return f"{what} of at least {lo}" if hi is None else f"{what} from {lo} to {hi}"
