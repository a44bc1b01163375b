"""The one builder of a run's campaign set: duplicates removed, ``exclude`` applied, warned.

Whatever names the campaigns (the job's ``campaigns`` and ``campaigns_file``,
``--campaigns-file``, the list answers of a ``select``), the same rules hold:
the first of duplicate ids is kept, an excluded id is never touched, and an
``exclude`` id that matches none of them is warned about (a typo there
protects nothing).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bulkops.text import excerpt


@dataclass(frozen=True)
class CampaignSet:
    ids: tuple[str, ...]  # the campaigns to act on, in the order given
    excluded: tuple[str, ...]  # ids that ``exclude`` took out
    warnings: tuple[str, ...]
    unmatched: tuple[str, ...] = ()  # given ids the job's select does not match: left alone


def campaign_set(
    given: Sequence[str],
    exclude: frozenset[str],
    *,
    among: str,
    empty_warning: bool = True,
    complete: bool = True,
    matching: Collection[str] | None = None,
) -> CampaignSet:
    """``given`` de-duplicated with ``exclude`` applied; ``among`` names them in warnings
    ("the campaigns", "the selected campaigns"). ``empty_warning``: warn when exclude
    removes every campaign (a listing that found nothing is no such case). ``complete``:
    False when ``given`` is only the start of the campaigns (a listing stopped early), so
    an exclude id matching none of them may yet match one not listed: no warning.
    ``matching``: the ids a ``select`` job's filters match; a given id outside them is
    left alone (``unmatched``) and named in a warning."""
    unique = tuple(dict.fromkeys(given))
    warnings = []
    if len(unique) < len(given):
        seen: set[str] = set()
        first = next(i for i in given if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        warnings.append(
            f"{len(given) - len(unique)} duplicate campaign ids removed (first: {excerpt(first)})"
        )
    if complete and (unknown := sorted(exclude.difference(unique))):
        shown = ", ".join(excerpt(i) for i in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        warnings.append(f"{len(unknown)} exclude ids match none of {among} (a typo?): {shown}")
    kept = tuple(i for i in unique if i not in exclude)
    unmatched: tuple[str, ...] = ()
    if matching is not None:
        unmatched = tuple(i for i in kept if i not in matching)
        kept = tuple(i for i in kept if i in matching)
        if unmatched:
            warnings.append(_unmatched_warning(unmatched, among))
    if unique and not kept and empty_warning:
        warnings.append("exclude removes every campaign: there is nothing to do")
    excluded = tuple(i for i in unique if i in exclude)
    return CampaignSet(kept, excluded, tuple(warnings), unmatched)


def _unmatched_warning(unmatched: Sequence[str], among: str) -> str:
    shown = ", ".join(excerpt(i) for i in unmatched[:5]) + (" …" if len(unmatched) > 5 else "")
    count = f"{len(unmatched)} id{'s' * (len(unmatched) != 1)}"
    are = "is" if len(unmatched) == 1 else "are"
    return f"{count} of {among} {are} not matched by the job's select, left alone: {shown}"
