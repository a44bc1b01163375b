"""The sandbox's Create call (v1, v2, both dialects), checked over HTTP with plain aiohttp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bulkops.sandbox import Sandbox, SandboxConfig
from bulkops.sandbox.cli import build_parser
from tests.unit.sandbox.test_sandbox import CFG, headers
from tests.unit.sandbox.test_sandbox_dialect import call

V1 = f"/agentassist/api/v1/public/{CFG.app_id}/campaign"
V2 = f"/campaign/api/v2/public/{CFG.app_id}/campaign"
STRATEGY = {
    "callerId": {"phoneNumber": "+18125550100"},
    "callingHours": {
        "frequency": "WEEKLY",
        "timezone": "UTC",
        "days": [{"day": "MO", "start": "9:00 AM", "end": "6:00 PM"}],
    },
    "dialingOrder": "FIFO",
    "maxAttemptsPerRecord": 3,
    "defaultRetryPeriod": 10,
    "maxRingTime": 30,
}
MODE_FIELDS: dict[str, dict[str, Any]] = {
    "Agentless": {"experienceFlowName": "Billing Flow", "enableMachineDetect": True},
    "Progressive": {"queue_name": "Billing Queue"},
    "Preview": {"queue_name": "Billing Queue", "maxSkips": 2},
}


def body(mode: str = "Progressive", api: str = "v1", **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": f"Restored {mode}",
        "description": "Billing reminders",
        "contactLists": ["Overdue Accounts"],
        "priority": "3",
        "dialingMode": mode,
        "dialingStrategy": STRATEGY,
        "schedule": {"isSchedulingEnabled": False},
        "campaignType": "voice",
        **MODE_FIELDS[mode],
    }
    if api == "v2":
        doc["dncLists"] = [{"name": "Global DNC"}]
        if mode == "Agentless":
            doc["enableMachineDetect"] = "detect"
    doc |= changes
    return {k: v for k, v in doc.items() if v is not None}


def create_url(sb: Sandbox, api: str = "v1") -> str:
    base, account = (V2, f"accountId={CFG.account_id}&") if api == "v2" else (V1, "")
    return f"{sb.url}{base}?{account}campaignType=voice"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def create(
    session: aiohttp.ClientSession, sb: Sandbox, doc: Any, api: str = "v1"
) -> tuple[int, Any]:
    status, _, answer = await call(session, "POST", create_url(sb, api), json=doc)
    return status, answer


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize("mode", ["Agentless", "Progressive", "Preview"])
async def test_a_create_makes_a_new_preparing_campaign_with_the_body_settings(
    session: aiohttp.ClientSession, mode: str, api: str
) -> None:
    async with Sandbox(SandboxConfig(ready_after=3600)) as sb:
        status, answer = await create(session, sb, body(mode, api), api)
        assert status == 200 and answer["status"] == "success"
        assert "creation in progress" in answer["message"]
        new_id = answer["data"]["_id"]
        assert answer["data"]["status"] == "Preparing" and sb.campaign_ids() == [new_id]
        assert [c["id"] for c in sb.stats.created] == [new_id]
        assert sb.stats.created[0]["body"] == body(mode, api)
        _, _, got = await call(session, "GET", f"{sb.url}{V1}/{new_id}")
        shown = set(body(mode, api)) - {"queue_name", "experienceFlowName", "schedule"}
        assert {k: got["data"].get(k) for k in shown} == {k: body(mode, api)[k] for k in shown}
        assert got["data"]["schedule"]["isSchedulingEnabled"] is False
        assert got["data"]["status"] == "Preparing"


async def test_a_created_campaign_turns_ready_after_ready_after(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox(SandboxConfig(ready_after=0)) as sb:
        _, answer = await create(session, sb, body())
        assert answer["data"]["status"] == "Preparing"
        _, _, got = await call(session, "GET", f"{sb.url}{V1}/{answer['data']['_id']}")
        assert got["data"]["status"] == "Ready"


@pytest.mark.parametrize(
    ("mode", "api", "dropped", "message"),
    [
        (
            "Agentless",
            "v1",
            "experienceFlowName",
            "experienceFlowName is required for an Agentless",
        ),
        ("Progressive", "v1", "queue_name", "queue_name is required for a Progressive campaign"),
        ("Preview", "v1", "queue_name", "queue_name is required for a Preview campaign"),
        ("Preview", "v1", "maxSkips", "maxSkips is required for a Preview campaign"),
        ("Progressive", "v2", "dncLists", "dncLists is required for a Progressive campaign"),
        ("Agentless", "v1", "description", "description is required for an Agentless"),
    ],
)
async def test_a_body_without_a_required_field_is_refused_and_creates_nothing(
    session: aiohttp.ClientSession, mode: str, api: str, dropped: str, message: str
) -> None:
    async with Sandbox() as sb:
        status, answer = await create(session, sb, body(mode, api, **{dropped: None}), api)
        assert status == 400 and answer["message"].startswith(message)
        assert sb.campaign_ids() == [] and sb.stats.created == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"_id": "cd-old"}, "_id is not a field of a Progressive campaign"),
        ({"status": "Completed"}, "status is not a field"),
        ({"experienceFlowName": "Flow"}, "experienceFlowName is not a field of a Progressive"),
        ({"dncLists": [{"name": "Global DNC"}]}, "dncLists is not a field"),  # v1 has none
        ({"name": "x" * 49}, "name must be text of at most 48 characters"),
        ({"priority": 3}, 'priority must be one of "1" to "5"'),
        ({"schedule": {"isSchedulingEnabled": False, "isRecurrenceEnabled": False}}, "schedule"),
        ({"dialingStrategy": {**STRATEGY, "maxRingTime": 300}}, "dialingStrategy.maxRingTime"),
        ({"dialingMode": "Robocall"}, "dialingMode must be one of"),
    ],
)
async def test_a_body_the_platform_would_not_take_is_refused(
    session: aiohttp.ClientSession, changes: dict[str, Any], message: str
) -> None:
    async with Sandbox() as sb:
        status, answer = await create(session, sb, body(**changes))
        assert status == 400 and message in answer["message"]
        assert sb.campaign_ids() == []


async def test_machine_detection_is_a_boolean_in_v1_and_a_word_in_v2(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox() as sb:
        assert (await create(session, sb, body("Agentless", enableMachineDetect="detect")))[
            0
        ] == 400
        v2 = body("Agentless", "v2", enableMachineDetect=True)
        assert (await create(session, sb, v2, "v2"))[0] == 400
        assert (await create(session, sb, body("Agentless", "v2"), "v2"))[0] == 200


async def test_a_taken_name_is_refused_whatever_its_case_in_both_dialects(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox() as sb:
        assert (await create(session, sb, body()))[0] == 200
        status, answer = await create(session, sb, body(name="RESTORED progressive"))
        assert (status, answer["message"]) == (400, "Campaign name already exists")
        sb.configure(dialect="kore")
        status, answer = await create(session, sb, body())
        assert (status, answer) == (
            400,
            {"errors": [{"msg": "Campaign name already exists", "code": 400}]},
        )
        assert len(sb.stats.created) == 1


async def test_a_contact_list_that_does_not_exist_fails_the_create_until_it_is_added(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox(SandboxConfig(contact_lists=("Spring Promo",))) as sb:
        assert (await create(session, sb, body(contactLists=["Spring Promo"])))[0] == 200
        doc = body(name="Second", contactLists=["Overdue Accounts", "Gone List"])
        status, answer = await create(session, sb, doc)
        assert (status, answer["message"]) == (400, "Contact list 'Gone List' not found")
        url = f"{sb.url}/_sandbox/contact-lists"
        status, _, listed = await call(session, "POST", url, json={"add": ["Gone List"]})
        assert status == 200 and "Gone List" in listed["data"]["contactLists"]
        assert (await create(session, sb, doc))[0] == 200
        await call(session, "POST", url, json={"remove": ["Overdue Accounts"]})
        assert (await create(session, sb, body(name="Third")))[0] == 400


async def test_campaigns_a_job_names_are_on_lists_that_exist(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox() as sb:
        sb.add_campaigns([{"name": "Given", "contactLists": ["Own List"]}])
        assert (await create(session, sb, body(contactLists=["Own List"])))[0] == 200


@pytest.mark.parametrize(
    ("dialect", "mode", "id_at", "where"),
    [
        ("kore", "Preview", "dialect", ("data", "campId")),
        ("kore", "Progressive", "dialect", ("data", "_id")),
        ("bulkops", "Preview", "dialect", ("data", "_id")),
        ("bulkops", "Agentless", "id", ("data", "id")),
        ("bulkops", "Agentless", "top_id", ("id",)),
        ("kore", "Agentless", "top__id", ("_id",)),
    ],
)
async def test_the_new_id_stands_where_the_dialect_or_setting_puts_it(
    session: aiohttp.ClientSession, dialect: str, mode: str, id_at: str, where: tuple[str, ...]
) -> None:
    async with Sandbox(SandboxConfig(dialect=dialect, created_id_at=id_at)) as sb:
        status, answer = await create(session, sb, body(mode))
        assert status == 200
        found = answer
        for key in where:
            found = found[key]
        assert found == sb.campaign_ids()[0]
        assert ("_id" in answer["data"]) == (where == ("data", "_id"))


async def test_get_and_delete_lack_queue_and_flow_names_which_v2_rows_show_as_connection(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox() as sb:
        ids = {}
        for mode in MODE_FIELDS:
            _, answer = await create(session, sb, body(mode))
            ids[mode] = answer["data"]["_id"]
        rows = {}
        for api, base in (("v1", V1), ("v2", V2)):
            query = f"?accountId={CFG.account_id}" if api == "v2" else ""
            _, _, page = await call(
                session, "POST", f"{sb.url}{base}/getAllCampaignDetails{query}",
                json={"type": "voice", "limit": 10},
            )  # fmt: skip
            rows[api] = {r["_id"]: r for r in page["data"]["results"]}
        assert not any("connection" in r for r in rows["v1"].values())
        assert rows["v2"][ids["Progressive"]]["connection"] == "Billing Queue"
        assert rows["v2"][ids["Preview"]]["connection"] == "Billing Queue"
        assert "connection" not in rows["v2"][ids["Agentless"]]
        for mode, cid in ids.items():
            status, _, gone = await call(
                session, "DELETE", f"{sb.url}{V1}/{cid}?campaignType=voice"
            )
            assert status == 200
            assert not {"queue_name", "experienceFlowName"} & set(gone["data"]), mode
            assert ("experienceFlow" in gone["data"]) == (mode == "Agentless")


async def test_made_up_campaigns_have_queues_and_flows_too(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox(SandboxConfig(campaigns=30)) as sb:
        query = f"?accountId={CFG.account_id}"
        _, _, page = await call(
            session, "POST", f"{sb.url}{V2}/getAllCampaignDetails{query}",
            json={"type": "voice", "limit": 100}, headers=headers(),
        )  # fmt: skip
        for row in page["data"]["results"]:
            assert ("connection" in row) == (row["dialingMode"] != "Agentless")
            _, _, got = await call(session, "GET", f"{sb.url}{V1}/{row['_id']}")
            assert ("experienceFlow" in got["data"]) == (row["dialingMode"] == "Agentless")


async def test_the_create_checks_campaign_type_and_json(session: aiohttp.ClientSession) -> None:
    async with Sandbox() as sb:
        url = create_url(sb).replace("voice", "sms")
        status, _, answer = await call(session, "POST", url, json=body())
        assert (status, answer["message"]) == (400, "campaignType must be 'voice'")
        status, _, answer = await call(session, "POST", create_url(sb), data=b"{nope")
        assert status == 400
        status, _, answer = await call(session, "POST", create_url(sb), json=[body()])
        assert (status, answer["message"]) == (400, "Request body must be a JSON object")
        assert sb.stats.by_method == {"POST": 3}


def test_the_command_line_sets_contact_lists_readiness_and_where_the_id_stands() -> None:
    args = vars(
        build_parser().parse_args(
            ["--contact-list", "Spring", "--contact-list", "Gold", "--ready-after", "0.01"]
            + ["--created-id-at", "campId"]
        )
    )
    args.pop("ready_file"), args.pop("quiet")
    config = SandboxConfig(**args)
    assert (config.contact_lists, config.ready_after, config.created_id_at) == (
        ["Spring", "Gold"], 0.01, "campId",
    )  # fmt: skip
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--created-id-at", "nowhere"])


async def test_readiness_and_the_id_s_place_can_be_switched_while_it_runs(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox() as sb:
        status, _, settings = await call(
            session, "POST", f"{sb.url}/_sandbox/config",
            json={"ready_after": 3600, "created_id_at": "top__id"},
        )  # fmt: skip
        assert status == 200 and settings["ready_after"] == 3600
        _, answer = await create(session, sb, body())
        assert answer["_id"] == sb.campaign_ids()[0] and "_id" not in answer["data"]
        status, _, refused = await call(
            session, "POST", f"{sb.url}/_sandbox/config", json={"ready_after": -1}
        )
        assert status == 400 and "ready_after" in refused["message"]
