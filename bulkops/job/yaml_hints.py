"""Where YAML itself misleads a person writing a job file, say so and how to quote.

``*Test`` is an alias to YAML and ``&x`` an anchor; ``a: b: c`` is a mapping
inside a value; ``yes``/``no`` are booleans (see ``Value.got``); and ``name:
Billing #2`` silently ends at ``Billing``, the rest being a comment. None of
these hints quotes a value under a key that may hold a secret.
"""

from __future__ import annotations

import re

from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import ScalarNode

from bulkops.text import excerpt

_SECRET_WORDS = ("secret", "token")
_COMMENTED = re.compile(r"^\s*(?:-\s+|[\w.-]+:\s+)(?![\s'\"#\[{|>])[^#\n]*?\s(#\S+)")


def comment_notes(data: bytes, source: str) -> list[str]:
    """Warnings for ``name: Billing #2``: YAML ends the value before `` #``, silently."""
    notes = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        found = _COMMENTED.match(line)
        if found and not any(word in line.lower() for word in _SECRET_WORDS):
            notes.append(
                f"{source}:{number}: '{excerpt(found[1], 20)[1:-1]}' after a space starts a YAML "
                "comment, so the value ends before it; quote the value if it belongs to it"
            )
    return notes


def alias_problem(event: NodeEvent, key: object) -> str:
    """YAML reads ``*Test`` as an alias and ``&x`` as an anchor: say so, and how to quote."""
    alias = isinstance(event, AliasEvent)
    mark, kind = ("*", "an alias") if alias else ("&", "an anchor")
    written = f"{mark}{str(event.anchor)[:40]}" + ("" if alias else " ...")
    field = str(key.value)[:60] if isinstance(key, ScalarNode) else ""
    if any(word in field.lower() for word in _SECRET_WORDS):
        written = f"{mark}..."  # it may be the secret itself, written where it must not be
    example = f'{field}: "{written}"' if field else f'"{written}"'
    return (
        f"{field + ': ' if field else ''}YAML reads a value starting with '{mark}' as {kind}, "
        f"and aliases and anchors are not allowed in job files: quote the value if it is "
        f"text, e.g. {example}"
    )


def syntax_hint(problem: str) -> str:
    """How to fix the YAML syntax errors people make by not quoting."""
    if "mapping values are not allowed" in problem:
        return "; a ': ' inside a value starts a mapping: quote the value, e.g. \"Billing: old\""
    if "found character '\\t'" in problem:
        return "; indent with spaces, not tabs"
    return ""
