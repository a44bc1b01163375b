"""The Kore.ai campaign calls on aiohttp.

Maps every answer, and every way of getting none, to a value or to one of
``errors.*``: 2xx returns an ``Answer``; everything else raises. No retries and
no rate limiting here: the runner owns those, so that every request that
leaves this module has been admitted by the limiter.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from bulkops import __version__
from bulkops.errors import RetryableError
from bulkops.kore.answers import MAX_BODY_BYTES, classify, decode_body, excerpt
from bulkops.kore.tokens import TokenSource
from bulkops.model import Answer


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
        self._stop_base = f"{host}/campaign/api/v1/public/{quote(app_id, safe='')}/campaign"
        self._stop_query = (
            f"?accountId={quote(account_id, safe='')}&campaignType={quote(campaign_type, safe='')}"
            "&trigger=stop"
        )

    def campaign_url(self, campaign_id: str, *, with_type: bool) -> str:
        # quote(safe="") leaves exactly RFC 3986's unreserved characters as they are
        return f"{self._base}/{quote(campaign_id, safe='')}{self._query if with_type else ''}"

    async def delete(self, campaign_id: str) -> Answer:
        return await self._call("DELETE", self.campaign_url(campaign_id, with_type=True))

    async def get(self, campaign_id: str) -> Answer:
        return await self._call("GET", self.campaign_url(campaign_id, with_type=False))

    async def stop(self, campaign_id: str) -> Answer:
        """Kore.ai's Stop call: an Active campaign stops dialing (used before its delete)."""
        url = f"{self._stop_base}/{quote(campaign_id, safe='')}{self._stop_query}"
        return await self._call("POST", url, {})

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
    return f"{name}: {excerpt(detail)}" if detail else name
