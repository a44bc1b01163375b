"""The job file's ``select:`` section: filters for the list API, and the local ones."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta, timezone

from bulkops.job.rates import parse_age
from bulkops.job.yamlsafe import Scalar, Section, Value, suggest
from bulkops.model import STATUSES, CreatedBefore, Selection
from bulkops.text import excerpt

DIALING_MODES = ("Agentless", "Preview", "Progressive")
SELECT_KEYS = ("status", "dialing_mode", "priority", "name", "created_before")
_MAX_AGE = timedelta(days=100 * 366)


def read_selection(select: Section) -> Selection:
    if not len(select):
        select.fail("has no filter: it would select every campaign; add a filter (e.g. status)")
    return Selection(
        status=select.read("status", lambda v: read_choices(v, STATUSES), ()),
        dialing_mode=select.read("dialing_mode", lambda v: read_choices(v, DIALING_MODES), ()),
        priority=select.read(
            "priority",
            lambda v: tuple(dict.fromkeys(i.integer(1, 5) for i in v.items(scalar_ok=True))),
            (),
        ),
        name=select.read("name", lambda v: v.string(), None),
        created_before=select.read("created_before", _created_before, None),
    )


def read_choices(value: Value, allowed: tuple[str, ...]) -> tuple[str, ...]:
    chosen = []
    for item in value.items(scalar_ok=True):
        text = item.string()
        if text not in allowed:
            item.fail(
                f"{excerpt(text)} is not allowed{suggest(text, allowed)}; "
                f"choose from {', '.join(allowed)}"
            )
        chosen.append(text)
    return tuple(dict.fromkeys(chosen))


def _created_before(value: Value) -> CreatedBefore:
    """An ISO date (midnight UTC) or datetime (naive = UTC), or an age like 30d."""
    raw, text = value.raw, value.node.text if isinstance(value.node, Scalar) else ""
    if isinstance(raw, str) and (delta := parse_age(raw)) is not None:
        if not timedelta(0) < delta <= _MAX_AGE:
            value.fail(f"{excerpt(raw)}: an age must be more than 0 and at most 100 years")
        return CreatedBefore(age=delta, text=text)
    if isinstance(raw, str):
        iso = raw.strip()
        iso = iso[:-1] + "+00:00" if iso[-1:] in ("Z", "z") else iso
        with contextlib.suppress(ValueError):  # not ISO: reported below with the rest
            raw = date.fromisoformat(iso) if len(iso) == 10 else datetime.fromisoformat(iso)
    if isinstance(raw, datetime):
        try:
            utc = raw.astimezone(timezone.utc) if raw.tzinfo else raw.replace(tzinfo=timezone.utc)
        except OverflowError:  # 0001-01-01T00:00+05:00 is before the year 1 in UTC
            value.fail(f"{excerpt(text)} is out of range")
        return CreatedBefore(instant=utc, text=text)
    if isinstance(raw, date):
        midnight = datetime(raw.year, raw.month, raw.day, tzinfo=timezone.utc)
        return CreatedBefore(instant=midnight, text=text)
    hint = " (add a unit, e.g. 30d)" if isinstance(raw, int) else ""
    value.fail(
        "expected an ISO date (2025-01-31), datetime (2025-01-31T12:00:00Z) or an age "
        f"like 12h, 30d, 8w; got {value.got()}{hint}"
    )
