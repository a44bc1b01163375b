"""The job file's optional ``answers:`` section: a tenant's own server wordings.

Each entry is a case-insensitive glob on the server's whole message
(``"*no such campaign*"``). They add to the built-in wordings; a glob that
would match every message is refused, since it would turn every answer into
"already gone" or "rate limited".
"""

from __future__ import annotations

from bulkops.job.yamlsafe import Section, Value
from bulkops.model import Wordings
from bulkops.text import excerpt

ANSWERS_KEYS = ("not_found", "rate_limited")
MAX_GLOBS = 50


def read_answers(answers: Section | None) -> Wordings:
    if answers is None:
        return Wordings()
    return Wordings(
        not_found=answers.read("not_found", _globs, ()),
        rate_limited=answers.read("rate_limited", _globs, ()),
    )


def _globs(value: Value) -> tuple[str, ...]:
    globs = []
    for item in value.items(scalar_ok=True):
        text = item.string(max_len=200)
        if not text.strip("*? "):
            item.fail(f"{excerpt(text)} would match every message; quote the words to look for")
        globs.append(text)
    if len(globs) > MAX_GLOBS:
        value.fail(f"{len(globs)} wordings; at most {MAX_GLOBS} are allowed")
    return tuple(dict.fromkeys(globs))
