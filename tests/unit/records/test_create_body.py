"""Create bodies from deleted campaigns' snapshots and the job's restore: section (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from bulkops.model import RestoreDefaults
from bulkops.records.create_body import build_create_body, merged_snapshot

STRATEGY = {"callerId": {"phoneNumber": "+18125550100"}, "dialingOrder": "FIFO"}
DEFAULTS = RestoreDefaults("Default Queue", "Billing Flow", "Global DNC")


def deleted(mode: str, **changes: Any) -> dict[str, Any]:
    """A delete answer's ``data``, as Kore.ai returns it (no queue or flow name)."""
    data = {
        "_id": "cd-old",
        "lname": "billing reminder 1",
        "name": "Billing Reminder 1",
        "description": "Reminders",
        "status": "Stopped",
        "priority": "2",
        "dialingMode": mode,
        "dialingStrategy": STRATEGY,
        "contactLists": ["Overdue Accounts"],
        "schedule": {"isSchedulingEnabled": True, "isRecurrenceEnabled": False},
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-02T00:00:00.000Z",
        "campaignInstanceId": "cid-1",
        "maxSkips": 2,
        "enableMachineDetect": True,
        "experienceFlow": "ef-123",
    }
    return data | changes


COMMON = {
    "name": "Billing Reminder 1",
    "description": "Reminders",
    "priority": "2",
    "dialingStrategy": STRATEGY,
    "contactLists": ["Overdue Accounts"],
    "schedule": {"isSchedulingEnabled": True},
    "campaignType": "voice",
}


def build(snapshot: dict[str, Any], defaults: RestoreDefaults = DEFAULTS, api: str = "v1") -> Any:
    return build_create_body(snapshot, defaults, api=api, campaign_type="voice")


@pytest.mark.parametrize(
    ("mode", "api", "expected"),
    [
        ("Agentless", "v1", {"experienceFlowName": "Billing Flow", "enableMachineDetect": True}),
        ("Progressive", "v1", {"queue_name": "Default Queue"}),
        ("Preview", "v1", {"queue_name": "Default Queue", "maxSkips": 2}),
        (
            "Agentless",
            "v2",
            {
                "experienceFlowName": "Billing Flow",
                "enableMachineDetect": "detect",
                "dncLists": [{"name": "Global DNC"}],
            },
        ),
        ("Preview", "v2", {"queue_name": "Default Queue", "maxSkips": 2}),
    ],
)
def test_a_body_per_mode_and_api_holds_exactly_the_documented_fields(
    mode: str, api: str, expected: dict[str, Any]
) -> None:
    made = build(deleted(mode), api=api)
    dnc = {"dncLists": [{"name": "Global DNC"}]} if api == "v2" else {}
    assert made.body == COMMON | {"dialingMode": mode} | dnc | expected
    assert made.missing == () and made.error is None


def test_before_wins_field_by_field_and_a_v2_row_names_the_queue() -> None:
    row = {"_id": "cd-old", "name": "Renamed", "priority": 4, "connection": "Sales Queue"}
    snapshot = merged_snapshot(row, deleted("Progressive"))
    made = build(snapshot)
    assert made.body is not None
    assert (made.body["name"], made.body["priority"]) == ("Renamed", "4")
    assert made.body["queue_name"] == "Sales Queue"  # the row's, not restore.queue_name
    assert made.body["description"] == "Reminders"  # the delete answer's: rows lack it
    assert merged_snapshot(None, None) == {}
    assert merged_snapshot({"name": None}, {"name": "Kept"}) == {"name": "Kept"}


def test_a_snapshot_that_names_queue_flow_or_dnc_lists_is_not_overridden() -> None:
    made = build(
        deleted("Agentless", experienceFlowName="Own Flow", dncLists=[{"name": "D"}]), api="v2"
    )
    assert made.body is not None
    assert made.body["experienceFlowName"] == "Own Flow"
    assert made.body["dncLists"] == [{"name": "D"}]
    queue = build(deleted("Preview", queue_name="Own Queue")).body
    assert queue is not None and queue["queue_name"] == "Own Queue"


@pytest.mark.parametrize(
    ("mode", "api", "defaults", "missing", "words"),
    [
        (
            "Agentless",
            "v1",
            RestoreDefaults(queue_name="Q"),
            ("experienceFlowName",),
            "no experienceFlowName in the snapshot; set restore.experience_flow_name in the job",
        ),
        ("Progressive", "v1", RestoreDefaults(), ("queue_name",), "set restore.queue_name"),
        ("Preview", "v2", RestoreDefaults("Q"), ("dncLists",), "set restore.dnc_list"),
    ],
)
def test_a_body_lacking_a_required_field_is_not_made_and_the_field_is_named(
    mode: str, api: str, defaults: RestoreDefaults, missing: tuple[str, ...], words: str
) -> None:
    made = build(deleted(mode), defaults, api)
    assert (made.body, made.missing) == (None, missing)
    assert made.error is not None and words in made.error


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"maxSkips": None}, ("maxSkips",)),
        ({"maxSkips": "2"}, ("maxSkips",)),
        ({"priority": "9"}, ("priority",)),
        ({"schedule": None}, ("schedule.isSchedulingEnabled",)),
        ({"description": ""}, ("description",)),
        ({"contactLists": []}, ("contactLists",)),
        ({"dialingMode": "Robocall"}, ("dialingMode",)),
        ({"name": None, "dialingStrategy": None}, ("name", "dialingStrategy")),
    ],
)
def test_what_no_setting_can_give_is_named_too(
    changes: dict[str, Any], missing: tuple[str, ...]
) -> None:
    made = build(deleted("Preview", **changes))
    assert (made.body, made.missing) == (None, missing)
    assert made.error is not None and f"no usable {missing[0]} in the snapshot" in made.error


def test_machine_detection_is_converted_to_the_api_s_kind_and_left_out_when_unknown() -> None:
    v1 = build(deleted("Agentless", enableMachineDetect="disconnect")).body
    assert v1 is not None and v1["enableMachineDetect"] is True
    v2 = build(deleted("Agentless", enableMachineDetect=False), api="v2").body
    assert v2 is not None and v2["enableMachineDetect"] == "no"
    unknown = build(deleted("Agentless", enableMachineDetect="maybe")).body
    assert unknown is not None and "enableMachineDetect" not in unknown


def test_the_snapshot_s_campaign_type_wins_over_the_job_s() -> None:
    made = build(deleted("Progressive", campaignType="voice"))
    assert made.body is not None and made.body["campaignType"] == "voice"
    sms = build_create_body(deleted("Progressive"), DEFAULTS, api="v1", campaign_type="sms")
    assert sms.body is not None and sms.body["campaignType"] == "sms"
