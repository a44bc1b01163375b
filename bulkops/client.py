"""The Kore.ai campaign calls on aiohttp.

Maps every answer, and every way of getting none, to a value or to one of
``errors.*``: 2xx returns an ``Answer``; everything else raises. No retries and
no rate limiting here: the runner owns those, so that every request that
leaves this module has been admitted by the limiter.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from bulkops import __version__
from bulkops.auth import TokenSource
from bulkops.errors import ApiError, AuthError, NotFound, PermanentError, RetryableError
from bulkops.jsoncodec import loads

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_BODY_BYTES = 1 << 20  # larger answers are cut: the audit log keeps a record, not a dump
EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx answer: its status, the server's ``message`` and ``data`` (either may be None)."""

    status: int
    message: str | None
    data: dict[str, Any] | None


def _excerpt(text: str) -> str:
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
        return None, None, f"answer was not JSON: {_excerpt(text)}"
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


class KoreClient:
    """DELETE, GET and list calls for one target, on one shared ClientSession."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        host: str,
        app_id: str,
        account_id: str,
        campaign_type: str,
        tokens: TokenSource,
        timeout: float,
    ) -> None:
        self._session = session
        self._base = f"{host}/agentassist/api/v1/public/{quote(app_id, safe='')}/campaign"
        self._query = f"?campaignType={quote(campaign_type, safe='')}"
        self._fixed_headers = {"iid": app_id, "accountId": account_id}
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_s = timeout

    def campaign_url(self, campaign_id: str, *, with_type: bool) -> str:
        # quote(safe="") leaves exactly RFC 3986's unreserved characters as they are
        return f"{self._base}/{quote(campaign_id, safe='')}{self._query if with_type else ''}"

    async def delete(self, campaign_id: str) -> Answer:
        return await self._call("DELETE", self.campaign_url(campaign_id, with_type=True))

    async def get(self, campaign_id: str) -> Answer:
        return await self._call("GET", self.campaign_url(campaign_id, with_type=False))

    async def list_page(self, body: dict[str, Any]) -> Answer:
        return await self._call("POST", f"{self._base}/getAllCampaignDetails", body)

    async def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> Answer:
        headers = {"auth": self._tokens.token(), **self._fixed_headers}
        try:
            async with self._session.request(
                method, URL(url, encoded=True), headers=headers, json=body, timeout=self._timeout
            ) as resp:
                raw, truncated = await _read_bounded(resp)
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except asyncio.TimeoutError as exc:
            raise RetryableError(f"no answer within {self._timeout_s:g}s (timeout)") from exc
        except aiohttp.ClientError as exc:
            raise RetryableError(f"connection error: {_describe(exc)}") from exc
        message, data, note = decode_body(raw, truncated)
        if 200 <= status < 300:
            return Answer(status, message or (note or None), data)
        raise classify(status, message, data, note, retry_after)


async def _read_bounded(resp: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """The body, or (b"", True) once it passes MAX_BODY_BYTES (the rest is not read)."""
    if resp.content_length is not None and resp.content_length <= MAX_BODY_BYTES:
        return await resp.read(), False  # the usual case: one read of a known size
    stream = resp.content
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(1 << 16):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"", True
        chunks.append(chunk)
    return b"".join(chunks), False


def open_session(concurrency: int) -> aiohttp.ClientSession:
    """One session a run: pooled keep-alive connections, no silent resends."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    session = aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": f"bulkops/{__version__}"},
        cookie_jar=aiohttp.DummyCookieJar(),  # the API sets none; a real jar costs per request
    )
    # aiohttp resends an idempotent request once on its own when a kept-alive
    # connection turns out closed; that resend would slip past the rate limiter
    # and the attempt count. aiohttp's own test client turns it off the same way.
    session._retry_connection = False
    return session


def _describe(exc: aiohttp.ClientError) -> str:
    detail = str(exc)
    name = type(exc).__name__
    return f"{name}: {_excerpt(detail)}" if detail else name
