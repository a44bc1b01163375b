"""The client's calls and its mapping of answers, with aioresponses (no server)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import aiohttp
import jwt
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses

from bulkops.errors import (
    AbortError,
    AuthError,
    NotFound,
    PermanentError,
    RetryableError,
    Unreachable,
)
from bulkops.kore.answers import MAX_BODY_BYTES, parse_retry_after
from bulkops.kore.client import KoreClient
from bulkops.kore.tokens import JwtMinter

HOST = "https://kore.example"
BASE = f"{HOST}/agentassist/api/v1/public/st-app/campaign"
SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret!"
KEY = ConnectionKey("kore.example", 443, True, True, None, None, None)


@pytest.fixture
async def client() -> AsyncIterator[KoreClient]:
    async with aiohttp.ClientSession() as session:
        yield KoreClient(
            session,
            host=HOST,
            app_id="st-app",
            account_id="acc-1",
            campaign_type="voice",
            tokens=JwtMinter("cs-client", SECRET),
            timeout=5,
        )


@pytest.fixture
def mocked() -> aioresponses:
    with aioresponses() as m:
        yield m


async def test_delete_sends_path_query_and_headers(
    client: KoreClient, mocked: aioresponses
) -> None:
    mocked.delete(
        f"{BASE}/cd-1?campaignType=voice",
        payload={
            "status": "success",
            "message": "Campaign X deleted successfully",
            "data": {"_id": "cd-1"},
        },
    )
    answer = await client.delete("cd-1")
    assert (answer.status, answer.message, answer.data) == (
        200,
        "Campaign X deleted successfully",
        {"_id": "cd-1"},
    )
    (((method, url), calls),) = mocked.requests.items()
    assert method == "DELETE"
    headers = calls[0].kwargs["headers"]
    assert headers["iid"] == "st-app" and headers["accountId"] == "acc-1"
    claims = jwt.decode(
        headers["auth"], SECRET, algorithms=["HS256"], options={"verify_sub": False}
    )
    assert claims["appId"] == "cs-client" and claims["sub"] == "bulkops" and claims["jti"]
    assert claims["exp"] - claims["iat"] == 300


async def test_each_request_gets_its_own_jti(client: KoreClient, mocked: aioresponses) -> None:
    mocked.get(f"{BASE}/cd-1", payload={"data": {}}, repeat=True)
    for _ in range(3):
        await client.get("cd-1")
    calls = next(iter(mocked.requests.values()))
    jtis = {
        jwt.decode(c.kwargs["headers"]["auth"], SECRET, algorithms=["HS256"])["jti"] for c in calls
    }
    assert len(jtis) == 3


def test_ids_are_percent_encoded_outside_unreserved(client: KoreClient) -> None:
    url = client.campaign_url("a b%c?d#e+f:g~h_i.j-k", with_type=True)
    assert url == f"{BASE}/a%20b%25c%3Fd%23e%2Bf%3Ag~h_i.j-k?campaignType=voice"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, NotFound), (401, AuthError), (403, AuthError), (400, PermanentError),
     (409, PermanentError), (408, RetryableError), (429, RetryableError),
     (500, RetryableError), (502, RetryableError), (503, RetryableError), (504, RetryableError)],
)  # fmt: skip
async def test_statuses_map_to_errors(
    client: KoreClient, mocked: aioresponses, status: int, kind: type
) -> None:
    mocked.delete(re.compile(r".*"), status=status, payload={"message": "server says so"})
    with pytest.raises(kind) as caught:
        await client.delete("cd-1")
    assert caught.value.status == status
    assert caught.value.message == "server says so"
    assert "server says so" in str(caught.value)


async def test_retry_after_seconds_is_read(client: KoreClient, mocked: aioresponses) -> None:
    mocked.delete(re.compile(r".*"), status=429, headers={"Retry-After": "7"}, payload={})
    with pytest.raises(RetryableError) as caught:
        await client.delete("cd-1")
    assert caught.value.retry_after == 7


def test_retry_after_http_date_and_garbage() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    date = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(date, now=now.timestamp()) == pytest.approx(42)
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None


async def test_non_json_answer_is_described_not_raised(
    client: KoreClient, mocked: aioresponses
) -> None:
    mocked.delete(
        re.compile(r".*"), status=502, body="<html>Bad gateway</html>", content_type="text/html"
    )
    with pytest.raises(RetryableError) as caught:
        await client.delete("cd-1")
    assert "not JSON" in str(caught.value) and "Bad gateway" in str(caught.value)


async def test_success_without_a_kore_json_body_is_no_success(
    client: KoreClient, mocked: aioresponses
) -> None:
    mocked.delete(re.compile(r".*"), status=204, body="")
    with pytest.raises(PermanentError, match="HTTP 204, but not a success: the answer was empty"):
        await client.delete("cd-1")


async def test_huge_answer_is_not_kept(client: KoreClient, mocked: aioresponses) -> None:
    mocked.delete(re.compile(r".*"), status=400, body=b"x" * (MAX_BODY_BYTES + 10))
    with pytest.raises(PermanentError) as caught:
        await client.delete("cd-1")
    assert "larger than" in str(caught.value)


async def test_timeout_and_connection_errors_are_retryable(
    client: KoreClient, mocked: aioresponses
) -> None:
    mocked.delete(re.compile(r".*"), exception=asyncio.TimeoutError())
    with pytest.raises(RetryableError, match="timeout"):
        await client.delete("cd-1")
    mocked.delete(re.compile(r".*"), exception=aiohttp.ServerDisconnectedError())
    with pytest.raises(RetryableError, match="ServerDisconnectedError"):
        await client.delete("cd-1")


async def test_list_page_posts_the_body(client: KoreClient, mocked: aioresponses) -> None:
    mocked.post(
        f"{BASE}/getAllCampaignDetails", payload={"data": {"results": [], "hasMore": False}}
    )
    answer = await client.list_page({"type": "voice", "page": 1})
    assert answer.data == {"results": [], "hasMore": False}
    call = next(iter(mocked.requests.values()))[0]
    assert call.kwargs["json"] == {"type": "voice", "page": 1}


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (aiohttp.ClientConnectorError(None, ConnectionRefusedError(111, "refused")),
         "connection refused"),
        (aiohttp.ClientConnectorDNSError(KEY, OSError(-2, "Name or service not known")),
         "DNS lookup failed"),
        (aiohttp.ClientConnectorCertificateError(None, ValueError("self-signed certificate")),
         "(self-signed certificate); for a private CA set SSL_CERT_FILE"),
        (aiohttp.ConnectionTimeoutError("Connection timeout to host"), "no connection within"),
    ],
)  # fmt: skip
async def test_a_target_that_cannot_be_reached_is_unreachable_not_a_timeout(
    client: KoreClient, mocked: aioresponses, exc: Exception, said: str
) -> None:
    mocked.delete(re.compile(r".*"), exception=exc)
    with pytest.raises(Unreachable) as caught:
        await client.delete("cd-1")
    assert said in caught.value.explanation and HOST in caught.value.explanation


async def test_redirects_are_not_followed(client: KoreClient, mocked: aioresponses) -> None:
    mocked.delete(re.compile(r".*"), status=302, headers={"Location": "http://elsewhere/x"})
    mocked.delete("http://elsewhere/x", payload={"status": "success"})
    with pytest.raises(AbortError, match="redirected to http://elsewhere/x"):
        await client.delete("cd-1")
    assert len(mocked.requests) == 1


async def test_v2_paths_carry_the_account(mocked: aioresponses) -> None:
    async with aiohttp.ClientSession() as session:
        v2 = KoreClient(
            session, host=HOST, app_id="st-app", account_id="acc 1", campaign_type="sms",
            tokens=JwtMinter("cs-client", SECRET), timeout=5, api="v2",
        )  # fmt: skip
        base = f"{HOST}/campaign/api/v2/public/st-app/campaign"
        assert v2.campaign_url("cd-1", with_type=True) == (
            f"{base}/cd-1?accountId=acc%201&campaignType=sms"
        )
        assert v2.campaign_url("cd-1", with_type=False) == f"{base}/cd-1?accountId=acc%201"
        mocked.post(f"{base}/getAllCampaignDetails?accountId=acc%201", payload={"data": {}})
        assert (await v2.list_page({"type": "sms"})).data == {}
