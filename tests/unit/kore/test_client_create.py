"""The Create call: what the client sends, how it reads the answers, and the sandbox end to end."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from job_factory import SECRET

from bulkops.errors import (
    AbortError,
    AuthError,
    NameTaken,
    NotFound,
    PermanentError,
    RateLimited,
    RetryableError,
)
from bulkops.kore.client import KoreClient, open_session
from bulkops.kore.tokens import JwtMinter
from bulkops.model import RestoreDefaults
from bulkops.records.create_body import build_create_body, merged_snapshot
from bulkops.sandbox import Sandbox, SandboxConfig

HOST = "https://kore.example"
V1 = f"{HOST}/agentassist/api/v1/public/st-app/campaign?campaignType=voice"
V2 = f"{HOST}/campaign/api/v2/public/st-app/campaign?accountId=acc-1&campaignType=voice"
BODY = {"name": "Billing", "dialingMode": "Progressive", "queue_name": "Q"}


def kore_client(session: aiohttp.ClientSession, api: str = "v1", **kw: Any) -> KoreClient:
    return KoreClient(
        session, host=kw.pop("host", HOST), app_id=kw.pop("app_id", "st-app"),
        account_id=kw.pop("account_id", "acc-1"), campaign_type="voice",
        tokens=JwtMinter(kw.pop("client_id", "cs-client"), SECRET), timeout=5, api=api,
    )  # fmt: skip


@pytest.fixture
async def client() -> AsyncIterator[KoreClient]:
    async with aiohttp.ClientSession() as session:
        yield kore_client(session)


@pytest.fixture
def mocked() -> aioresponses:
    with aioresponses() as m:
        yield m


@pytest.mark.parametrize(("api", "url"), [("v1", V1), ("v2", V2)])
async def test_create_posts_the_body_to_the_documented_path(
    mocked: aioresponses, api: str, url: str
) -> None:
    mocked.post(url, payload={"status": "success", "data": {"_id": "cd-new"}})
    async with aiohttp.ClientSession() as session:
        created = await kore_client(session, api).create(BODY)
    assert created.new_id == "cd-new" and created.status == 200
    ((method, sent_url), calls) = next(iter(mocked.requests.items()))
    assert (method, str(sent_url)) == ("POST", url)
    sent = calls[0].kwargs
    assert sent["json"] == BODY
    assert sent["headers"]["iid"] == "st-app" and sent["headers"]["accountId"] == "acc-1"
    assert sent["allow_redirects"] is False


@pytest.mark.parametrize(
    ("answer", "new_id"),
    [
        ({"data": {"_id": "a", "campId": "b", "id": "c"}, "id": "d"}, "a"),
        ({"data": {"campId": "b", "id": "c"}, "id": "d"}, "b"),
        ({"data": {"id": "c"}, "_id": "e"}, "c"),
        ({"data": {"name": "x"}, "id": "d", "_id": "e"}, "d"),
        ({"_id": "e"}, "e"),
        ({"data": {"_id": "has/slash", "campId": 7, "id": "ok"}}, "ok"),  # ids that are no ids
        ({"message": "Campaign creation in progress"}, None),
    ],
)
async def test_the_new_id_is_read_where_the_pages_put_it(
    client: KoreClient, mocked: aioresponses, answer: dict[str, Any], new_id: str | None
) -> None:
    mocked.post(V1, payload={"status": "success", **answer})
    assert (await client.create(BODY)).new_id == new_id


@pytest.mark.parametrize(
    ("status", "payload", "error", "words"),
    [
        (
            200,
            {"status": "failure", "message": "Could not create"},
            PermanentError,
            "not a success",
        ),
        (200, {"errors": [{"msg": "bad"}]}, PermanentError, "errors list"),
        (400, {"errors": [{"msg": "Campaign name already exists"}]}, NameTaken, "name is taken"),
        (409, {"message": "A campaign with this name already exists"}, NameTaken, "name is taken"),
        (400, {"message": "Contact list 'Gone' not found"}, PermanentError, "'Gone' not found"),
        (404, {"message": "Queue not found"}, PermanentError, "Queue not found"),
        (400, {"message": "Contact list already exists"}, PermanentError, "already exists"),
        (412, {"message": "queue_name is required"}, PermanentError, "required"),
        (401, {"errors": [{"msg": "Invalid JWT token"}]}, AuthError, "check"),
        (403, {"message": "Forbidden"}, AuthError, "Campaign Management"),
        (400, {"errors": [{"msg": "Invalid StreamId"}]}, AbortError, "target.app_id"),
        (302, {}, AbortError, "redirects are never followed"),
        (429, {"message": "slow"}, RateLimited, "rate limited"),
        (400, {"message": "You've exceeded the per-minute rate limit."}, RateLimited, "rate"),
        (503, {"message": "busy"}, RetryableError, "503"),
    ],
)
async def test_create_answers_are_read_by_meaning(
    client: KoreClient,
    mocked: aioresponses,
    status: int,
    payload: dict[str, Any],
    error: type[Exception],
    words: str,
) -> None:
    mocked.post(V1, status=status, payload=payload)
    with pytest.raises(error, match=words) as info:
        await client.create(BODY)
    assert type(info.value) is error or error is AbortError
    assert not isinstance(info.value, NotFound)  # "not found" means nothing for a Create


async def test_a_taken_name_on_another_status_is_no_taken_name(
    client: KoreClient, mocked: aioresponses
) -> None:
    mocked.post(V1, status=500, payload={"message": "Campaign name already exists"})
    with pytest.raises(RetryableError):
        await client.create(BODY)


# --- against the sandbox: delete, build the body from the answer, create --------------------

DEFAULTS = RestoreDefaults("Billing Queue", "Billing Flow", "Global DNC")
MODES = ("Agentless", "Progressive", "Preview")


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize("dialect", ["bulkops", "kore"])
async def test_deleted_campaigns_come_back_with_the_snapshot_s_settings(
    api: str, dialect: str
) -> None:
    config = SandboxConfig(dialect=dialect, ready_after=3600)
    async with Sandbox(config) as sb, open_session(2) as session:
        client = kore_client(
            session, api, host=sb.url, app_id=sb.config.app_id,
            account_id=sb.config.account_id, client_id=sb.config.client_id,
        )  # fmt: skip
        old = sb.add_campaigns([{"name": f"Old {m}", "dialingMode": m} for m in MODES])
        for cid, mode in zip(old, MODES, strict=True):
            snapshot = (await client.delete(cid)).data
            made = build_create_body(
                merged_snapshot(None, snapshot), DEFAULTS, api=api, campaign_type="voice"
            )
            assert made.body is not None, made.error
            created = await client.create(made.body)
            assert created.new_id is not None and created.new_id not in old
            new = sb.state.store.get(created.new_id)
            assert new is not None and (new.name, new.status) == (f"Old {mode}", "Preparing")
            assert sb.stats.created[-1]["body"] == json.loads(json.dumps(made.body))
            with pytest.raises(NameTaken):
                await client.create(made.body)
        assert len(sb.stats.created) == 3


async def test_a_missing_contact_list_fails_with_the_server_s_message() -> None:
    async with Sandbox(SandboxConfig(dialect="kore")) as sb, open_session(1) as session:
        client = kore_client(
            session, host=sb.url, app_id=sb.config.app_id,
            account_id=sb.config.account_id, client_id=sb.config.client_id,
        )  # fmt: skip
        (cid,) = sb.add_campaigns([{"dialingMode": "Preview", "contactLists": ["Spring"]}])
        snapshot = (await client.delete(cid)).data
        sb.state.store.contact_lists.discard("Spring")
        made = build_create_body(
            merged_snapshot(None, snapshot), DEFAULTS, api="v1", campaign_type="voice"
        )
        assert made.body is not None
        with pytest.raises(PermanentError) as info:
            await client.create(made.body)
        assert type(info.value) is PermanentError
        assert (info.value.status, info.value.message) == (400, "Contact list 'Spring' not found")
        assert sb.stats.created == []
