"""Every problem of a job file at once, instead of one per attempt.

``collecting()`` opens a collection for the current context; while it is
open, ``Section.read`` and ``Section``'s unknown-key check record a failing
field here and let the loader go on with a default, and ``attempt()`` does the
same for a whole part (target, auth, the campaigns). ``raise_collected()``
then raises one ``JobError`` listing them all, one ``FILE:LINE: field:
problem`` a line, at most ``MAX_SHOWN``. Without an open collection nothing
changes: the first problem raises, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from bulkops.errors import JobError

T = TypeVar("T")
MAX_SHOWN = 20  # a file wrong in every line needs no 500-line answer

_open: ContextVar[list[str] | None] = ContextVar("bulkops_job_problems", default=None)


@contextmanager
def collecting() -> Iterator[None]:
    """Collects problems until the block ends, then raises them all (if any) as one JobError."""
    problems: list[str] = []
    token = _open.set(problems)
    try:
        yield
    except JobError as exc:  # a problem the loader cannot go on after: the last one
        problems.append(str(exc))
    finally:
        _open.reset(token)
    raise_collected(problems)


def record(exc: JobError) -> bool:
    """Keep ``exc`` in the open collection: True if there is one (the caller goes on)."""
    problems = _open.get()
    if problems is None:
        return False
    text = str(exc)
    if text not in problems:
        problems.append(text)
    return True


def problem_count() -> int:
    """How many problems the open collection holds (0 without one)."""
    return len(_open.get() or ())


def attempt(read: Callable[[], T], default: T) -> T:
    """``read()``, or ``default`` after recording its JobError in the open collection."""
    try:
        return read()
    except JobError as exc:
        if not record(exc):
            raise
        return default


def raise_collected(problems: list[str]) -> None:
    if not problems:
        return
    problems = sorted(problems, key=_line)  # stable: in file order, then in the order found
    shown = problems[:MAX_SHOWN]
    if len(problems) > MAX_SHOWN:
        shown.append(f"… and {len(problems) - MAX_SHOWN} more problems")
    elif len(problems) > 1:
        shown.append(f"({len(problems)} problems; nothing was sent)")
    raise JobError("\n".join(shown))


_LINE = re.compile(r":(\d+):")


def _line(problem: str) -> int:
    found = _LINE.search(problem)
    return int(found[1]) if found else 0
