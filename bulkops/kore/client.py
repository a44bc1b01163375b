"""The Kore.ai campaign calls on aiohttp.

Maps every answer, and every way of getting none, to a value or to one of
``errors.*``: a real success returns an ``Answer``; everything else raises
(``answers.read_answer`` says which). No retries and no rate limiting here:
the engine's worker pool owns those, so that every request that leaves this module has been
admitted by the limiter. Redirects are never followed: the ``auth`` token
would go along to wherever they point.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from bulkops import __version__
from bulkops.errors import RetryableError, Unreachable
from bulkops.kore.answers import (
    MAX_BODY_BYTES,
    Body,
    decode_body,
    read_answer,
    read_create_answer,
    shortened,
)
from bulkops.kore.scrub import scrub_text
from bulkops.kore.tokens import TokenSource
from bulkops.kore.wordings import WordingMatcher
from bulkops.model import BUILT_IN_ONLY, Answer, Created, Wordings

# The documented path families (README, "A job file"); v2 adds accountId to every query.
API_BASES = {"v1": "/agentassist/api/v1/public", "v2": "/campaign/api/v2/public"}


class KoreClient:
    """DELETE, GET, list, Stop and Create calls for one target, on one shared ClientSession."""

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
        api: str = "v1",
        wordings: Wordings = BUILT_IN_ONLY,
        secret_source: str = "",
    ) -> None:
        self._session = session
        self._host = host
        # quote(safe="") leaves exactly RFC 3986's unreserved characters as they are
        self._base = f"{host}{API_BASES[api]}/{quote(app_id, safe='')}/campaign"
        account = f"accountId={quote(account_id, safe='')}" if api == "v2" else ""
        kind = f"campaignType={quote(campaign_type, safe='')}"
        self._query = "?" + "&".join(filter(None, (account, kind)))
        self._plain_query = f"?{account}" if account else ""
        self._fixed_headers = {"iid": app_id, "accountId": account_id}
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_s = timeout
        self._stop_base = f"{host}/campaign/api/v1/public/{quote(app_id, safe='')}/campaign"
        self._stop_query = (
            f"?accountId={quote(account_id, safe='')}&campaignType={quote(campaign_type, safe='')}"
            "&trigger=stop"
        )
        self._wordings = WordingMatcher(wordings)
        self._proxy, self._proxy_auth = env_proxy(host)
        self._hints = {
            "target.host": f"target.host ({host})",
            "target.app_id": f"target.app_id ({app_id})",
            "target.account_id": f"target.account_id ({account_id})",
            "auth": (f"the {secret_source}, " if secret_source else "the secret, ")
            + f"auth.client_id and that the JWT app belongs to target.app_id ({app_id})",
        }

    def campaign_url(self, campaign_id: str, *, with_type: bool) -> str:
        query = self._query if with_type else self._plain_query
        return f"{self._base}/{quote(campaign_id, safe='')}{query}"

    async def delete(self, campaign_id: str) -> Answer:
        return await self._call("DELETE", self.campaign_url(campaign_id, with_type=True))

    async def get(self, campaign_id: str) -> Answer:
        return await self._call("GET", self.campaign_url(campaign_id, with_type=False))

    async def stop(self, campaign_id: str) -> Answer:
        """Kore.ai's Stop call: an Active campaign stops dialing (used before its delete)."""
        url = f"{self._stop_base}/{quote(campaign_id, safe='')}{self._stop_query}"
        return await self._call("POST", url, {})

    async def list_page(self, body: dict[str, Any]) -> Answer:
        url = f"{self._base}/getAllCampaignDetails{self._plain_query}"
        return await self._call("POST", url, body)

    async def create(self, body: dict[str, Any]) -> Created:
        """Kore.ai's Create call (paths: README "Creating campaigns in the sandbox").

        A new campaign with a new id.

        Raises ``NameTaken`` when the answer says the name exists. A
        ``RetryableError`` other than ``RateLimited`` (a timeout, a reset, a 5xx)
        leaves it unknown whether the campaign was made: look it up by name
        before sending the same Create again.
        """
        status, answer, headers = await self._exchange("POST", f"{self._base}{self._query}", body)
        result = read_create_answer(status, answer, headers, self._wordings, self._hints)
        if isinstance(result, Created):
            return result
        raise result

    async def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> Answer:
        status, answer, headers = await self._exchange(method, url, body)
        result = read_answer(status, answer, headers, self._wordings, self._hints)
        if isinstance(result, Answer):
            return result
        raise result

    async def _exchange(
        self, method: str, url: str, body: dict[str, Any] | None
    ) -> tuple[int, Body, Mapping[str, str]]:
        """One request: its status, decoded body and headers; no answer at all raises."""
        token = self._tokens.token()
        headers = {"auth": token, **self._fixed_headers}
        try:
            async with self._session.request(
                method, URL(url, encoded=True), headers=headers, json=body,
                timeout=self._timeout, allow_redirects=False,
                proxy=self._proxy, proxy_auth=self._proxy_auth, middlewares=(_SendOnce(),),
            ) as resp:  # fmt: skip
                raw, truncated = await _read_bounded(resp)
                status = resp.status
                answer_headers = resp.headers  # read only when the answer needs them
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise Unreachable(f"cannot reach {self._host}: {_unreachable(exc, token)}") from exc
        except aiohttp.ClientHttpProxyError as exc:
            why = f"the proxy refused the connection (HTTP {exc.status})"
            raise Unreachable(f"cannot reach {self._host}: {why}") from exc
        except asyncio.TimeoutError as exc:
            raise RetryableError(f"no answer within {self._timeout_s:g}s (timeout)") from exc
        except aiohttp.ClientError as exc:
            raise RetryableError(f"connection error: {_describe(exc, token)}") from exc
        return status, decode_body(raw, truncated, token), answer_headers


def env_proxy(host: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy HTTPS_PROXY/HTTP_PROXY name for ``host`` (NO_PROXY honoured), read once a run."""
    try:
        return get_env_proxy_for_url(URL(host))
    except LookupError:
        return None, None


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
    """One session a run: pooled keep-alive connections, no silent resends.

    Proxies come from the environment once (``env_proxy``), not through
    ``trust_env``: that would also look up ~/.netrc and the proxy on every request.
    """
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    session = aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": f"bulkops/{__version__}"},
        cookie_jar=aiohttp.DummyCookieJar(),  # the API sets none; a real jar costs per request
    )
    return session


class _SendOnce:
    """A request's middleware that lets it leave once.

    aiohttp resends an idempotent request (DELETE, GET) once on its own when the
    connection drops, and offers no public switch to turn that off; the resend would
    slip past the rate limiter and the attempt count. A middleware runs for every send
    of the request, so this one refuses the second with the first one's error.
    """

    def __init__(self) -> None:
        self._failed: aiohttp.ClientError | None = None

    async def __call__(
        self, request: aiohttp.ClientRequest, send: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if self._failed is not None:
            raise self._failed
        try:
            return await send(request)
        except aiohttp.ClientError as exc:
            self._failed = exc
            raise


def _describe(exc: aiohttp.ClientError, token: str = "") -> str:
    detail = scrub_text(str(exc), token)
    name = type(exc).__name__
    return f"{name}: {shortened(detail)}" if detail else name


def _unreachable(exc: aiohttp.ClientError, token: str) -> str:
    """Why a connection could not be made, in words a person can act on."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "no connection within the timeout (a firewall, or the wrong host or port?)"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        why = f"TLS certificate not accepted ({shortened(str(exc.certificate_error))})"
        return why + "; for a private CA set SSL_CERT_FILE"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"TLS failed: {_describe(exc, token)} (https to a port that is not https?)"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return f"the proxy from HTTPS_PROXY/HTTP_PROXY cannot be reached: {_describe(exc, token)}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup failed: {_describe(exc, token)}"
    assert isinstance(exc, aiohttp.ClientConnectorError)
    if exc.os_error.errno == errno.ECONNREFUSED:
        return "connection refused (nothing listens on that port)"
    return _describe(exc, token)
