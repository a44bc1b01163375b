"""The sandbox's Kore dialect, named faults and v2 routes, checked with plain aiohttp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from bulkops.sandbox import Sandbox, SandboxConfig
from bulkops.sandbox.dialect import KORE_RATE_LIMIT_MESSAGE
from tests.unit.sandbox.test_sandbox import CFG, campaign_url, headers

V2 = f"/campaign/api/v2/public/{CFG.app_id}/campaign"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def call(
    session: aiohttp.ClientSession, method: str, url: URL | str, **kw: Any
) -> tuple[int, dict[str, str], Any]:
    async with session.request(
        method, url, headers=kw.pop("headers", None) or headers(), allow_redirects=False, **kw
    ) as resp:
        body = await resp.read()
        try:
            doc = await resp.json(content_type=None)
        except ValueError:
            doc = body.decode()
        return resp.status, dict(resp.headers), doc


async def test_kore_dialect_missing_campaign_and_wrong_app(session: aiohttp.ClientSession) -> None:
    async with Sandbox(SandboxConfig(dialect="kore")) as sb:
        status, _, doc = await call(session, "DELETE", campaign_url(sb, "cd-x", delete=True))
        assert (status, doc) == (400, {"errors": [{"msg": "Campaign not found", "code": 400}]})
        status, _, doc = await call(
            session, "GET", campaign_url(sb, "cd-x"), headers=headers(iid="st-other")
        )
        assert (status, doc["errors"][0]["msg"]) == (400, "Invalid StreamId")
        status, _, doc = await call(
            session, "GET", campaign_url(sb, "cd-x"), headers=headers(auth="junk")
        )
        assert status == 401 and doc["errors"][0]["code"] == 4002


@pytest.mark.parametrize("refusal_status", [429, 400, 200])
async def test_kore_rate_limit_refusals_carry_only_the_wording(
    session: aiohttp.ClientSession, refusal_status: int
) -> None:
    config = SandboxConfig(
        campaigns=3, dialect="kore", rates=("1/10s",), rate_limit_status=refusal_status
    )
    async with Sandbox(config) as sb:
        cid = sb.campaign_ids()[0]
        assert (await call(session, "GET", campaign_url(sb, cid)))[0] == 200
        status, resp_headers, doc = await call(session, "GET", campaign_url(sb, cid))
        assert status == refusal_status and "Retry-After" not in resp_headers
        assert doc == {"errors": [{"msg": KORE_RATE_LIMIT_MESSAGE, "code": 4029}]}
        assert sb.stats.rate_limited == 1


async def test_named_faults_never_delete(session: aiohttp.ClientSession) -> None:
    async with Sandbox(SandboxConfig(campaigns=6)) as sb:
        ids = sb.campaign_ids()
        names = ["failure_body", "html", "truncated", "html_404", "redirect"]
        sb.configure(
            scripted={cid: [name] for cid, name in zip(ids[:5], names, strict=True)},
            echo_token=True,
        )
        answers = [
            await call(session, "DELETE", campaign_url(sb, cid, delete=True)) for cid in ids[:5]
        ]
        assert [a[0] for a in answers] == [200, 200, 200, 404, 302]
        assert answers[0][2] == {"status": "failure", "message": "Campaign could not be deleted"}
        assert "Sign in" in answers[1][2] and "nginx" in answers[3][2]
        assert isinstance(answers[2][2], str) and answers[2][2].startswith('{"status"')
        location = answers[4][1]["Location"]
        assert location.startswith(f"{sb.url}/_sandbox/redirected/agentassist/")
        assert (await call(session, "DELETE", location))[0] == 200
        assert sb.stats.redirects_followed == 1 and sb.stats.deleted_ids == []
        assert sb.stats.injected == {name: [cid] for cid, name in zip(ids[:5], names, strict=True)}
        assert sb.state.settings.as_json()["scripted"][ids[0]] == []
        sent = headers()
        status, _, doc = await call(
            session, "DELETE", campaign_url(sb, "cd-none", delete=True), headers=sent
        )
        assert (
            status == 404 and doc["message"] == f"Campaign not found (request auth: {sent['auth']})"
        )


async def test_v2_routes_need_the_account_in_the_query(session: aiohttp.ClientSession) -> None:
    async with Sandbox(SandboxConfig(campaigns=2)) as sb:
        cid = sb.campaign_ids()[0]
        url = f"{sb.url}{V2}/{cid}?campaignType=voice"
        assert (await call(session, "DELETE", url))[0] == 400
        assert (await call(session, "DELETE", f"{url}&accountId={CFG.account_id}"))[0] == 200
        assert sb.stats.by_api == {"v2": 2} and sb.stats.deleted_ids == [cid]


def test_fault_names_are_checked() -> None:
    with pytest.raises(ValueError, match="fault"):
        SandboxConfig(scripted={"c": ["nonsense"]})
    with pytest.raises(ValueError, match="redirect_status"):
        SandboxConfig(redirect_status=200)
    assert SandboxConfig(error_rates={"failure_body": 0.5}).settings().as_json()["error_rates"] == {
        "failure_body": 0.5
    }
