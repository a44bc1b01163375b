"""Timestamps as the audit log, plans and the Kore.ai API write them: UTC ISO-8601."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> str:
    """UTC ISO-8601 with milliseconds and Z, as every record's ``ts``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(value: object) -> datetime | None:
    """An aware datetime from ISO-8601 text (``Z`` or an offset; none means UTC),
    as ``ts`` fields, plans and the API's ``createdAt`` carry; None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
