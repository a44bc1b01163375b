"""Kore.ai's Create Voice Campaign call, as the sandbox answers it.

``POST .../campaign?campaignType=voice`` (v1 and v2 paths) with the documented
body: ``name`` (at most 48 characters), ``description`` (at most 256),
``contactLists`` (names of lists that must exist), ``priority`` ("1".."5"),
``dialingMode``, ``dialingStrategy``, ``schedule.isSchedulingEnabled``,
``campaignType``; by mode Agentless ``experienceFlowName`` (required) and
``enableMachineDetect`` (v1 a boolean, v2 ``no``/``detect``/``disconnect``),
Progressive ``queue_name``, Preview ``queue_name`` and ``maxSkips``; v2 also
``dncLists`` (a list of ``{"name": ...}``). A field the platform would not take
(``_id``, ``status``, ``createdAt``... or one of no documented meaning) is
refused, so a client that forgets to drop it is caught here.

A taken name (compared case-insensitively) is a 400 "Campaign name already
exists", as is any other refused body, in the configured dialect. A created
campaign answers ``Preparing`` with a new id (where the id stands is
``created_id_at``) and turns ``Ready`` ``ready_after`` seconds later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from bulkops.sandbox.dialect import Replier
from bulkops.sandbox.state import SandboxState
from bulkops.sandbox.store import DIALING_MODES, BadRequest, Campaign, CampaignStore, iso

NAME_TAKEN = "Campaign name already exists"
COMMON_FIELDS = (
    *("name", "description", "contactLists", "priority", "dialingMode"),
    *("dialingStrategy", "schedule", "campaignType"),
)
MODE_FIELDS = {
    "Agentless": ("experienceFlowName", "enableMachineDetect"),
    "Progressive": ("queue_name",),
    "Preview": ("queue_name", "maxSkips"),
}
REQUIRED_BY_MODE = {
    "Agentless": ("experienceFlowName",),
    "Progressive": ("queue_name",),
    "Preview": ("queue_name", "maxSkips"),
}
V2_FIELDS = ("dncLists",)
MACHINE_DETECT_V2 = ("no", "detect", "disconnect")
STRATEGY_RANGES = {"maxAttemptsPerRecord": (1, 100), "defaultRetryPeriod": (1, 1440)}
STRATEGY_RANGES |= {"maxRingTime": (5, 120)}


async def answer_create(
    state: SandboxState, request: web.Request, reply: Replier, api: str
) -> web.Response:
    """The Create call: check the body, refuse a taken name, add the campaign."""
    wanted = state.config.campaign_type
    if request.query.get("campaignType") != wanted:
        return reply.error(400, f"campaignType must be '{wanted}'")
    try:
        body = await request.json()
    except ValueError:
        return reply.error(400, "Request body must be JSON")
    try:
        check_body(body, api=api, campaign_type=wanted, known_lists=state.store.contact_lists)
    except BadRequest as exc:
        return reply.error(400, str(exc))
    if state.store.named(body["name"]) is not None:
        return reply.error(400, NAME_TAKEN)
    campaign = add_created(state.store, body)
    state.stats.created.append({"id": campaign.id, "name": campaign.name, "body": body})
    asyncio.get_running_loop().call_later(
        state.settings.ready_after, _make_ready, state.store, campaign.id
    )
    return web.json_response(_answer(campaign, state.settings.created_id_at, reply.kore))


def check_body(body: Any, *, api: str, campaign_type: str, known_lists: Collection[str]) -> None:
    """BadRequest naming the first problem of a Create body, as the platform would."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    mode = body.get("dialingMode")
    if mode not in DIALING_MODES:
        raise BadRequest(f"dialingMode must be one of {', '.join(DIALING_MODES)}")
    allowed = {*COMMON_FIELDS, *MODE_FIELDS[mode], *(V2_FIELDS if api == "v2" else ())}
    if unknown := [key for key in body if key not in allowed]:
        raise BadRequest(f"{str(unknown[0])[:40]} is not a field of {_a(mode)} campaign")
    required = (*COMMON_FIELDS, *REQUIRED_BY_MODE[mode], *(V2_FIELDS if api == "v2" else ()))
    if missing := [key for key in required if body.get(key) in (None, "", [], {})]:
        raise BadRequest(f"{missing[0]} is required for {_a(mode)} campaign")
    _check_common(body, campaign_type)
    _check_strategy(body["dialingStrategy"])
    _check_mode(body, mode, api)
    for name in body["contactLists"]:
        if name not in known_lists:
            raise BadRequest(f"Contact list '{name[:60]}' not found")


def _a(mode: str) -> str:
    return f"an {mode}" if mode[0] in "AEIOU" else f"a {mode}"


def _check_common(body: Mapping[str, Any], campaign_type: str) -> None:
    for key, limit in (("name", 48), ("description", 256)):
        if not isinstance(body[key], str) or len(body[key]) > limit:
            raise BadRequest(f"{key} must be text of at most {limit} characters")
    lists = body["contactLists"]
    if not isinstance(lists, list) or not all(isinstance(x, str) and x for x in lists):
        raise BadRequest("contactLists must be a list of contact list names")
    if body["priority"] not in ("1", "2", "3", "4", "5"):
        raise BadRequest('priority must be one of "1" to "5"')
    schedule = body["schedule"]
    if not isinstance(schedule, dict) or not isinstance(schedule.get("isSchedulingEnabled"), bool):
        raise BadRequest("schedule.isSchedulingEnabled must be true or false")
    if set(schedule) != {"isSchedulingEnabled"}:
        raise BadRequest("schedule takes only isSchedulingEnabled")
    if body["campaignType"] != campaign_type:
        raise BadRequest(f"campaignType must be '{campaign_type}'")


def _check_strategy(strategy: Any) -> None:
    if not isinstance(strategy, dict):
        raise BadRequest("dialingStrategy must be an object")
    for key, (low, high) in STRATEGY_RANGES.items():
        value = strategy.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
        ):
            raise BadRequest(f"dialingStrategy.{key} must be an integer from {low} to {high}")
    if strategy.get("dialingOrder", "FIFO") not in ("FIFO", "LIFO"):
        raise BadRequest("dialingStrategy.dialingOrder must be FIFO or LIFO")


def _check_mode(body: Mapping[str, Any], mode: str, api: str) -> None:
    for key in ("experienceFlowName", "queue_name"):
        if key in body and not isinstance(body[key], str):
            raise BadRequest(f"{key} must be text")
    if "maxSkips" in body and (
        isinstance(body["maxSkips"], bool) or not isinstance(body["maxSkips"], int)
    ):
        raise BadRequest("maxSkips must be an integer")
    detect = body.get("enableMachineDetect")
    if detect is not None and (
        detect not in MACHINE_DETECT_V2 if api == "v2" else not isinstance(detect, bool)
    ):
        allowed = "no, detect or disconnect" if api == "v2" else "true or false"
        raise BadRequest(f"enableMachineDetect must be {allowed}")
    dnc = body.get("dncLists")
    if dnc is not None and not (
        isinstance(dnc, list)
        and all(isinstance(d, dict) and isinstance(d.get("name"), str) and d["name"] for d in dnc)
    ):
        raise BadRequest('dncLists must be a list of {"name": ...}')


def add_created(store: CampaignStore, body: Mapping[str, Any]) -> Campaign:
    """The new campaign, ``Preparing``, with a new id and the body's settings."""
    now = iso(datetime.now(timezone.utc))
    summary = ("name", "priority", "dialingMode", "contactLists")
    given = {key: body[key] for key in summary} | {
        "_id": store.new_id(),
        "status": "Preparing",
        "createdAt": now,
        "updatedAt": now,
    }
    settings = {key: value for key, value in body.items() if key not in summary}
    settings["schedule"] = {**body["schedule"], "isRecurrenceEnabled": False}
    return store.add(given | settings)


def _make_ready(store: CampaignStore, campaign_id: str) -> None:
    campaign = store.get(campaign_id)
    if campaign is not None and campaign.status == "Preparing":
        campaign.status = "Ready"


def _answer(campaign: Campaign, id_at: str, kore: bool) -> dict[str, Any]:
    """The success answer; the new id where ``id_at`` says (see config.CREATED_ID_PLACES)."""
    data = campaign.full()
    if id_at == "dialect":
        id_at = "campId" if kore and campaign.dialing_mode == "Preview" else "_id"
    answer: dict[str, Any] = {
        "status": "success",
        "message": f"Campaign {campaign.name} creation in progress",
    }
    if id_at != "_id":
        del data["_id"]
    if id_at.startswith("top_"):
        answer[id_at.removeprefix("top_")] = campaign.id
    elif id_at != "_id":
        data[id_at] = campaign.id
    return answer | {"data": data}


def change_contact_lists(store: CampaignStore, change: Any) -> list[str]:
    """Apply ``{"add": [names], "remove": [names]}`` (either optional); the lists now known.
    A campaign already naming a removed list keeps it: only a new Create fails on it."""
    if not isinstance(change, dict) or not set(change) <= {"add", "remove"}:
        raise BadRequest('expected {"add": [names], "remove": [names]}')
    for key in ("add", "remove"):
        names = change.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise BadRequest(f"{key} must be a list of contact list names")
    store.contact_lists.update(change.get("add", []))
    store.contact_lists.difference_update(change.get("remove", []))
    return sorted(store.contact_lists)
