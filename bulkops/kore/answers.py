"""Reading Kore.ai's answers by what they mean, not only by their status.

Pure: no network, no event loop. ``decode_body`` reads a body (scrubbed of
tokens); ``read_answer`` turns status, body and headers into an ``Answer``
(a real success) or one of ``errors.*``, as the README's "How answers are
read" says: where two rows match, a rate-limit refusal wins, then an abort,
then not-found, then the row of the status. ``read_create_answer`` reads a
Create's answer the same way, with a taken name as ``NameTaken`` and no
not-found.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

from bulkops.errors import (
    AbortError,
    ApiError,
    AuthError,
    NameTaken,
    NotFound,
    PermanentError,
    RateLimited,
    RetryableError,
)
from bulkops.ids import id_problem
from bulkops.jsoncodec import TooDeep, loads
from bulkops.kore.scrub import clean_message, scrub_bytes, scrub_data
from bulkops.kore.wordings import WordingMatcher
from bulkops.model import Answer, Created

RETRYABLE_STATUSES = frozenset({408, 500, 502, 503, 504})
NOT_FOUND_STATUSES = frozenset({400, 410})  # besides 404: when the message says so
FAILURE_STATUSES = frozenset({"failure", "failed", "error"})
NAME_TAKEN_STATUSES = frozenset({400, 409})  # a Create's name is taken, when the message says so
NEW_ID_KEYS = ("_id", "campId", "id")  # where a Create's answer puts the new id in ``data``
MAX_BODY_BYTES = 1 << 20  # larger answers are cut: the audit log keeps a record, not a dump
EXCERPT_CHARS = 200


def shortened(text: str) -> str:
    """``text`` on one line, cut to EXCERPT_CHARS (the console escapes what it prints)."""
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


class Body(NamedTuple):
    """What an answer's body holds, already scrubbed of tokens and cut to size."""

    message: str | None  # ``message``, else ``errors[0].msg``
    data: dict[str, Any] | None
    kore_json: bool  # a JSON object: something Kore.ai (not a proxy page) could have said
    failure: str | None = None  # what in a JSON object says failure
    note: str = ""  # why the body is no Kore JSON, for people
    ids: tuple[Any, ...] = ()  # a Create's new id, where it may stand, in that order


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


def decode_body(raw: bytes, truncated: bool, token: str = "") -> Body:
    """The body's message, data and shape; the request's ``token`` and any JWT are redacted."""
    if truncated:
        return Body(None, None, False, note=f"answer body larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return Body(None, None, False, note="the answer was empty")
    raw = scrub_bytes(raw, token)
    try:
        doc = loads(raw)
    except TooDeep as exc:
        return Body(None, None, False, note=f"answer was {exc}")
    except (ValueError, UnicodeDecodeError):
        text = raw[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
        return Body(None, None, False, note=f"answer was not JSON: {shortened(text)}")
    if not isinstance(doc, dict):
        return Body(None, None, False, note="answer was JSON but not an object")
    if b"\\" in raw:  # an escaped token is invisible to scrub_bytes (one byte: memchr)
        doc = scrub_data(doc, token)
    data = doc.get("data")
    message = doc.get("message")
    if not isinstance(message, str) or not message:
        message = _first_error(doc)
    failure = None if doc.get("status") == "success" and not doc.get("errors") else _failure(doc)
    data = data if isinstance(data, dict) else None
    return Body(
        clean_message(message, token) if message is not None else None,
        data,
        True,
        failure,
        ids=(*(data.get(key) for key in NEW_ID_KEYS if data), doc.get("id"), doc.get("_id")),
    )


def _first_error(doc: dict[str, Any]) -> str | None:
    errors = doc.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        msg = errors[0].get("msg", errors[0].get("message"))
        if isinstance(msg, str) and msg:
            return msg
    return None


def _failure(doc: dict[str, Any]) -> str | None:
    status = doc.get("status")
    if isinstance(status, str) and status.strip().lower() in FAILURE_STATUSES:
        return f"the answer says status {clean_message(status)!r}"
    errors = doc.get("errors")
    if isinstance(errors, list) and errors:
        return "the answer carries an errors list"
    return None


def read_answer(
    status: int,
    body: Body,
    headers: Mapping[str, str],
    wordings: WordingMatcher,
    hints: Mapping[str, str],
) -> Answer | ApiError:
    """A real success as an ``Answer``, anything else as the error it stands for.

    ``hints`` says, per field (``target.host``, ``target.app_id``,
    ``target.account_id``, ``auth``), what a person should check when an
    answer aborts the run.
    """
    refused = status == 429 or wordings.rate_limited(body.message)
    success = 200 <= status < 300  # no abort and no not-found row is about a 2xx
    if success and not refused and body.kore_json and body.failure is None:
        return Answer(status, body.message, body.data)
    said = body.message or body.note or "no message"
    kw: dict[str, Any] = {"status": status, "message": body.message, "data": body.data}
    if refused:
        wait = parse_retry_after(headers.get("Retry-After"))
        return RateLimited(f"HTTP {status}: {said} (rate limited)", retry_after=wait, **kw)
    if success:
        why = body.failure or body.note
        return PermanentError(f"HTTP {status}, but not a success: {why}", **kw)
    if (abort := _abort(status, body, headers, wordings, hints, said, kw)) is not None:
        return abort
    if body.kore_json and (
        status == 404 or (status in NOT_FOUND_STATUSES and wordings.not_found(body.message))
    ):
        return NotFound(f"HTTP {status}: {said}", **kw)
    if status in RETRYABLE_STATUSES:
        return RetryableError(f"HTTP {status}: {said}", **kw)
    return PermanentError(f"HTTP {status}: {said}", **kw)


def read_create_answer(
    status: int,
    body: Body,
    headers: Mapping[str, str],
    wordings: WordingMatcher,
    hints: Mapping[str, str],
) -> Created | ApiError:
    """A Create's answer: ``Created``, or the error it stands for.

    As ``read_answer``, except: a 400/409 whose message says the name is taken
    is ``NameTaken``, and "not found" means nothing for a Create (a contact list
    not found is an ordinary ``PermanentError`` with the server's message).
    """
    result = read_answer(status, body, headers, wordings, hints)
    if isinstance(result, Answer):
        new_id = next((i for i in body.ids if isinstance(i, str) and not id_problem(i)), None)
        return Created(result.status, result.message, result.data, new_id)
    if not isinstance(result, PermanentError) or not 400 <= status < 500:
        return result
    kw: dict[str, Any] = {"status": status, "message": body.message, "data": body.data}
    if status in NAME_TAKEN_STATUSES and body.kore_json and wordings.name_taken(body.message):
        return NameTaken(f"HTTP {status}: {body.message} (the name is taken)", **kw)
    if isinstance(result, NotFound):
        return PermanentError(result.explanation, **kw)
    return result


def _abort(
    status: int,
    body: Body,
    headers: Mapping[str, str],
    wordings: WordingMatcher,
    hints: Mapping[str, str],
    said: str,
    kw: dict[str, Any],
) -> AbortError | None:
    if 300 <= status < 400:
        where = clean_message(headers.get("Location", ""))[:200] or "nowhere"
        why = f"HTTP {status}: redirected to {where}; redirects are never followed"
        return AbortError(f"{why}: check {hints['target.host']}", field="target.host", **kw)
    if status == 401:
        return AuthError(f"HTTP 401: {said}: check {hints['auth']}", field="auth", **kw)
    wrong = wordings.wrong_target(body.message) if status in (400, 403, 404) else None
    if status == 403:
        field = wrong or "target.app_id"
        check = hints[field] if wrong else f"{hints[field]} and {hints['target.account_id']}"
        scope = ", and that the app has the Campaign Management API scope"
        return AuthError(f"HTTP 403: {said}: check {check}{scope}", field=field, **kw)
    if wrong is not None:
        return AbortError(f"HTTP {status}: {said}: check {hints[wrong]}", field=wrong, **kw)
    if status == 404 and not body.kore_json:
        why = f"HTTP 404 and {body.note or 'no Kore.ai JSON answer'}"
        where = "the host is wrong, or a proxy answered"
        hint = hints["target.host"]
        return AbortError(f"{why} ({where}): check {hint}", field="target.host", **kw)
    return None
