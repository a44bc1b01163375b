"""Kore.ai's Stop call: what the client sends, and how the sandbox answers it."""

from __future__ import annotations

import pytest
from job_factory import SECRET

from bulkops.errors import NotFound
from bulkops.kore.client import KoreClient, open_session
from bulkops.kore.tokens import JwtMinter
from bulkops.sandbox import Sandbox


async def test_stop_is_the_documented_post_and_the_sandbox_stops_the_campaign() -> None:
    async with Sandbox(seed=3) as sandbox, open_session(2) as session:
        (live,) = sandbox.add_campaigns([{"_id": "cd live/1", "status": "Active"}])
        client = KoreClient(
            session, host=sandbox.url, app_id="st-sandbox-app", account_id="acc-sandbox",
            campaign_type="voice", tokens=JwtMinter("cs-sandbox-demo", SECRET), timeout=5,
        )  # fmt: skip
        answer = await client.stop(live)
        assert answer.status == 200 and answer.message == "Campaign Stopped"
        assert answer.data is not None and answer.data["status"] == "Stopped"
        assert sandbox.state.store.get(live).status == "Stopped"  # type: ignore[union-attr]
        with pytest.raises(NotFound):
            await client.stop("cd-never-was")
        stats = sandbox.state.snapshot()
        assert stats["stopped_ids"] == [live] and stats["by_method"] == {"POST": 2}
        assert stats["list_calls"] == []  # not mistaken for a list call


async def test_the_sandbox_refuses_a_stop_without_its_query() -> None:
    async with Sandbox(seed=3) as sandbox, open_session(1) as session:
        (live,) = sandbox.add_campaigns([{"_id": "cd-1", "status": "Active"}])
        tokens = JwtMinter("cs-sandbox-demo", SECRET)
        query = "accountId=acc-sandbox&campaignType=voice"  # no trigger=stop
        url = f"{sandbox.url}/campaign/api/v1/public/st-sandbox-app/campaign/{live}?{query}"
        headers = {"auth": tokens.token(), "iid": "st-sandbox-app", "accountId": "acc-sandbox"}
        async with session.post(url, json={}, headers=headers) as resp:
            assert resp.status == 400 and "trigger" in (await resp.json())["message"]
        assert sandbox.state.store.get(live).status == "Active"  # type: ignore[union-attr]
