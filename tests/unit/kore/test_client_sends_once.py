"""What reaches a real server when a connection drops: the client's one request, no resend.

The SPEC counts every request against the rate limit, including any resend an
HTTP library makes on its own. aiohttp resends an idempotent request once when
its connection drops; these tests run against the in-process sandbox (aioresponses
replaces the very code that resends, so it cannot show this).
"""

from __future__ import annotations

import aiohttp
import pytest

from bulkops.errors import RetryableError
from bulkops.kore.client import KoreClient, open_session
from bulkops.kore.tokens import JwtMinter
from bulkops.sandbox import Sandbox, SandboxConfig

CFG = SandboxConfig(campaigns=3)


def kore_client(session: aiohttp.ClientSession, url: str) -> KoreClient:
    return KoreClient(
        session, host=url, app_id=CFG.app_id, account_id=CFG.account_id, campaign_type="voice",
        tokens=JwtMinter(CFG.client_id, CFG.client_secret), timeout=5,
    )  # fmt: skip


@pytest.mark.parametrize("method", ["delete", "get"])
async def test_a_dropped_connection_is_one_request_not_a_silent_resend(method: str) -> None:
    async with Sandbox(CFG) as sb, open_session(concurrency=1) as session:
        kept, dropped = sb.campaign_ids()[:2]
        client = kore_client(session, sb.url)
        await getattr(client, method)(kept)  # leaves a kept-alive connection behind
        sb.configure(scripted={dropped: [0]})
        with pytest.raises(RetryableError, match="connection error"):
            await getattr(client, method)(dropped)
        assert sb.state.snapshot()["by_method"] == {method.upper(): 2}
        assert sb.stats.dropped == 1
        answer = await getattr(client, method)(dropped)  # the caller's next attempt
        assert answer.status == 200
        assert sb.state.snapshot()["by_method"] == {method.upper(): 3}
