"""Hostile-input-proof YAML for job files: bytes in, a tree of located nodes out.

Only what ``yaml.safe_load`` understands is accepted, and less: no anchors or
aliases (no "billion laughs"), at most ``MAX_DEPTH`` levels of nesting (checked
while composing, so a 10,000-deep ``[[[...]]]`` never reaches Python's
recursion limit), no duplicate keys, string keys only, standard scalar tags
only, and files of at most ``MAX_JOB_BYTES``. Every failure is a ``JobError``
that names the file and line and quotes at most ``EXCERPT_CHARS`` of input.

``Value`` and ``Section`` read nodes as typed values with the same kind of messages:
``jobs/x.yaml:12: run.concurrency: expected an integer from 1 to 1000, got 'abc'``.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bulkops.errors import JobError
from bulkops.job.problems import attempt, record
from bulkops.job.yaml_hints import alias_problem, syntax_hint
from bulkops.reading import open_regular
from bulkops.text import excerpt

MAX_JOB_BYTES = 1024 * 1024
MAX_DEPTH = 20

T = TypeVar("T")

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))


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

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise _Refused(alias_problem(event, index), line)
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
        with open_regular(path) as f:
            data = f.read(MAX_JOB_BYTES + 1)
            if len(data) > MAX_JOB_BYTES:
                size = max(len(data), _size(f.fileno()))
                raise JobError(
                    f"{source}: the {what} is {size:,} bytes; at most {MAX_JOB_BYTES:,} "
                    "(1 MiB) are allowed: is this the right file?"
                )
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "invalid path"
        raise JobError(f"{source}: cannot read the {what}: {reason}") from None
    return data


def _size(fd: int) -> int:
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
        node = yaml.compose(text, Loader=_JobLoader)
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
    if exc.context and exc.problem:
        problem = f"{exc.context}, {exc.problem}"
    return f"{where}: YAML syntax error: {problem[:160]}{syntax_hint(problem)}"


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
        raise JobError(f"{source}:{node.start_mark.line + 1}: {_tag_problem(node.tag)}")


def _tag_problem(tag: str) -> str:
    return f"the YAML tag {excerpt(tag.replace(_TAG, '!!'))} is not allowed in job files"


def _scalar_value(node: ScalarNode, source: str) -> object:
    line = node.start_mark.line + 1
    if node.tag not in _SCALAR_TAGS:
        raise JobError(f"{source}:{line}: {_tag_problem(node.tag)}")
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


class Value:
    """One node of the job file and its field name: read it as a typed value or fail.

    Every failure is a JobError ``FILE:LINE: FIELD: problem``.
    """

    __slots__ = ("node", "field", "source", "key_line")

    def __init__(self, node: YNode, field: str, source: str, key_line: int | None = None) -> None:
        self.node = node
        self.field = field  # e.g. "run.concurrency", "campaigns[3]"; "" for the document
        self.source = source
        self.key_line = key_line  # the line of its key, when it is a mapping's value

    @property
    def line(self) -> int:
        return self.node.line

    @property
    def raw(self) -> object:
        """The scalar's Python value (None for lists and mappings)."""
        return self.node.value if isinstance(self.node, Scalar) else None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}: {self.field or 'top level'}"

    def fail(self, problem: str) -> NoReturn:
        raise JobError(f"{self.where}: {problem}")

    def got(self) -> str:
        """What the value is, for 'expected X, got Y' (quoted at most EXCERPT_CHARS)."""
        if isinstance(self.node, Seq):
            return "a list"
        if isinstance(self.node, Map):
            return "a mapping"
        value = self.node.value
        if value is None:
            return "nothing (null)"
        if isinstance(value, bool):
            text = self.node.text if isinstance(self.node, Scalar) else ""
            if text.lower() not in ("true", "false"):  # yes, no, on, off: YAML 1.1 booleans
                return (
                    f"{excerpt(text)}, which YAML reads as the boolean {str(value).lower()} "
                    f'(quote it: "{text[:40]}")'
                )
            return f"{str(value).lower()} (a boolean)"
        return excerpt(value)

    def section(self, allowed: Collection[str], what: str = "settings") -> Section:
        return Section(self, allowed, what)

    def items(self, *, scalar_ok: bool = False) -> Iterator[Value]:
        """The items of a list (or, when ``scalar_ok``, a single scalar as the only item)."""
        if isinstance(self.node, Seq):
            for i, item in enumerate(self.node.items):
                yield Value(item, f"{self.field}[{i}]", self.source)
        elif scalar_ok and self.raw is not None:
            yield self
        else:
            self.fail(f"expected a list, got {self.got()}")

    def string(self, *, max_len: int = 256) -> str:
        value = self.raw
        if not isinstance(value, str):
            hint = (
                " (quote it)"
                if isinstance(value, int | float) and not isinstance(value, bool)
                else ""
            )
            self.fail(f"expected a string, got {self.got()}{hint}")
        if not value:
            self.fail("must not be empty")
        if len(value) > max_len:
            self.fail(f"{len(value)} characters long; at most {max_len} are allowed")
        if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
            self.fail(f"contains a control character: {excerpt(value)}")
        return value

    def integer(self, lo: int, hi: int | None = None) -> int:
        value = self.raw
        in_range = isinstance(value, int) and value >= lo and (hi is None or value <= hi)
        if in_range and not isinstance(value, bool):
            assert isinstance(value, int)
            return value
        wanted = f"at least {lo}" if hi is None else f"from {lo} to {hi}"
        self.fail(f"expected an integer {wanted}, got {self.got()}")

    def number(self, lo: float, hi: float, *, lo_open: bool = False) -> float:
        value = self.raw
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value) if abs(value) < 1e300 else math.inf
            above = number > lo if lo_open else number >= lo
            if math.isfinite(number) and above and number <= hi:
                return number
        low = f"more than {lo:g}" if lo_open else f"at least {lo:g}"
        self.fail(f"expected a number {low} and at most {hi:g}, got {self.got()}")

    def boolean(self) -> bool:
        value = self.raw
        if not isinstance(value, bool):
            self.fail(f"expected true or false, got {self.got()}")
        return value


class Section:
    """A mapping of the job file whose keys are all in ``allowed``; read key by key."""

    def __init__(self, value: Value, allowed: Collection[str], what: str = "settings") -> None:
        node = value.node
        self.field = value.field
        self.source = value.source
        if not isinstance(node, Map):
            value.fail(f"expected a mapping of {what}, got {value.got()}")
        self.line = value.key_line  # where the section starts; None for the document
        self._map = node
        for key in node.entries:
            if key not in allowed:
                hint = suggest(key, allowed) or f"; allowed: {', '.join(sorted(allowed))}"
                problem = f"unknown key {excerpt(key)}{hint}"
                try:
                    self.fail_at_key(key, problem, field=self.field or "top level")
                except JobError as exc:
                    if not record(exc):  # collected: the other keys are still read
                        raise

    def __contains__(self, key: str) -> bool:
        return key in self._map.entries

    def __len__(self) -> int:
        return len(self._map.entries)

    def keys(self) -> list[str]:
        return list(self._map.entries)

    def name(self, key: str) -> str:
        return f"{self.field}.{key}" if self.field else key

    def get(self, key: str) -> Value | None:
        node = self._map.entries.get(key)
        if node is None:
            return None
        return Value(node, self.name(key), self.source, self._map.key_lines[key])

    def need(self, key: str) -> Value:
        value = self.get(key)
        if value is None:
            where = f"{self.source}:{self.line}" if self.line else self.source
            raise JobError(f"{where}: {self.name(key)}: missing; it is required")
        return value

    def read(self, key: str, read: Callable[[Value], T], default: T) -> T:
        """``read(value)`` when ``key`` is given, else ``default``."""
        value = self.get(key)
        return default if value is None else attempt(lambda: read(value), default)

    def fail_at_key(self, key: str, problem: str, *, field: str | None = None) -> NoReturn:
        """Fail at the line of ``key`` itself; the field named is ``key``'s unless given."""
        field = field or self.name(key)
        raise JobError(f"{self.source}:{self._map.key_lines[key]}: {field}: {problem}")

    def fail(self, problem: str) -> NoReturn:
        where = f"{self.source}:{self.line}" if self.line else self.source
        raise JobError(f"{where}: {self.field or 'top level'}: {problem}")
