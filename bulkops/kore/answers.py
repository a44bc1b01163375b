"""Reading Kore.ai's answers: the body, the Retry-After header, and what a status means.

Pure: no network, no event loop. ``classify`` turns a non-2xx answer into one
of ``errors.*``; ``KoreClient`` raises what it returns.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

from bulkops.errors import ApiError, AuthError, NotFound, PermanentError, RetryableError
from bulkops.jsoncodec import loads

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_BODY_BYTES = 1 << 20  # larger answers are cut: the audit log keeps a record, not a dump
EXCERPT_CHARS = 200


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if seconds == seconds else None  # NaN is no answer


def decode_body(raw: bytes, truncated: bool) -> tuple[str | None, dict[str, Any] | None, str]:
    """(message, data, note) from a body; ``note`` explains a body we could not use."""
    if truncated:
        return None, None, f"answer body larger than {MAX_BODY_BYTES} bytes, not read"
    if not raw:
        return None, None, ""
    try:
        doc = loads(raw)
    except (ValueError, UnicodeDecodeError):
        text = raw[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
        return None, None, f"answer was not JSON: {excerpt(text)}"
    if not isinstance(doc, dict):
        return None, None, "answer was JSON but not an object"
    message = doc.get("message")
    data = doc.get("data")
    return (
        message if isinstance(message, str) else None,
        data if isinstance(data, dict) else None,
        "",
    )


def classify(
    status: int,
    message: str | None,
    data: dict[str, Any] | None,
    note: str,
    retry_after: str | None,
) -> ApiError:
    """The error a non-2xx answer stands for (pure: testable without a network)."""
    said = message or note or "no message"
    kw: dict[str, Any] = {"status": status, "message": message, "data": data}
    if status in (401, 403):
        return AuthError(f"HTTP {status}: {said}", **kw)
    if status == 404:
        return NotFound(f"HTTP 404: {said}", **kw)
    if status in RETRYABLE_STATUSES:
        return RetryableError(
            f"HTTP {status}: {said}", retry_after=parse_retry_after(retry_after), **kw
        )
    return PermanentError(f"HTTP {status}: {said}", **kw)
