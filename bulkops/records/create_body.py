"""The Create body that brings a deleted campaign back, from what the audit log kept of it.

Pure: no I/O. A campaign line keeps two snapshots: ``before`` (the campaign as
bulkops last listed or fetched it before deleting it) and ``campaign`` (the
delete answer's ``data``). Each field comes from ``before`` when it has it, else
from ``campaign``, else, for the three a snapshot may lack, from the job's
``restore:`` section:

- ``queue_name`` (Progressive, Preview): the snapshot's ``queue_name``, else its
  ``connection`` (v2 list rows name the queue so), else ``restore.queue_name``;
- ``experienceFlowName`` (Agentless): the delete answer has only the flow's id,
  so ``restore.experience_flow_name`` unless a snapshot names it;
- ``dncLists`` (v2 only): the snapshot's, else ``[{"name": restore.dnc_list}]``.

The body holds exactly the documented Create fields: ``name``, ``description``,
``priority`` (a string "1".."5"), ``dialingMode``, ``dialingStrategy``,
``contactLists``, ``schedule.isSchedulingEnabled``, ``campaignType`` (the
snapshot's, else the job's), plus per mode Agentless ``experienceFlowName`` and
``enableMachineDetect`` (when known: v1 takes a boolean, v2 ``no``/``detect``/
``disconnect``, converted either way), Progressive ``queue_name``, Preview
``queue_name`` and ``maxSkips``. What the platform sets itself (``_id``,
``lname``, ``status``, ``createdAt``, ``updatedAt``, ``campaignInstanceId``,
``schedule.isRecurrenceEnabled``) is never sent. A body that would lack a
required field is not made: ``CreateBody.missing`` names the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bulkops.model import RestoreDefaults

DIALING_MODES = ("Agentless", "Progressive", "Preview")
COMMON_FIELDS = (
    *("name", "description", "priority", "dialingMode", "dialingStrategy", "contactLists"),
)
MODE_FIELDS = {
    "Agentless": ("experienceFlowName",),  # enableMachineDetect is optional
    "Progressive": ("queue_name",),
    "Preview": ("queue_name", "maxSkips"),
}
V2_MACHINE_DETECT = ("no", "detect", "disconnect")
# where the job's restore: section can fill a field in
RESTORE_KEY_OF = {
    "queue_name": "queue_name",
    "experienceFlowName": "experience_flow_name",
    "dncLists": "dnc_list",
}


@dataclass(frozen=True)
class CreateBody:
    """The body to send, or (``body`` None) the required fields it would lack."""

    body: dict[str, Any] | None
    missing: tuple[str, ...] = ()

    @property
    def error(self) -> str | None:
        """Why no body was made, for the restore log; None when there is one."""
        if not self.missing:
            return None
        return "cannot restore: " + "; ".join(_why_missing(field) for field in self.missing)


def merged_snapshot(
    before: Mapping[str, Any] | None, campaign: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Field by field, ``before`` first, else the delete answer's ``campaign``."""
    snapshot = dict(campaign) if isinstance(campaign, Mapping) else {}
    if isinstance(before, Mapping):
        snapshot |= {key: value for key, value in before.items() if value is not None}
    return snapshot


def build_create_body(
    snapshot: Mapping[str, Any], defaults: RestoreDefaults, *, api: str, campaign_type: str
) -> CreateBody:
    """The Create body for one deleted campaign (see the module docstring)."""
    body: dict[str, Any] = {key: snapshot.get(key) for key in COMMON_FIELDS}
    body["priority"] = _priority(body["priority"])
    body["schedule"] = _schedule(snapshot.get("schedule"))
    body["campaignType"] = snapshot.get("campaignType") or campaign_type
    mode = body["dialingMode"]
    if mode not in DIALING_MODES:
        body["dialingMode"] = None
    else:
        body |= _mode_fields(mode, snapshot, defaults, api)
    if api == "v2":
        body["dncLists"] = _dnc_lists(snapshot.get("dncLists"), defaults.dnc_list)
    missing = tuple(key for key, value in body.items() if _absent(value))
    if missing:
        return CreateBody(None, tuple(_field_name(key) for key in missing))
    return CreateBody(body)


def _mode_fields(
    mode: str, snapshot: Mapping[str, Any], defaults: RestoreDefaults, api: str
) -> dict[str, Any]:
    if mode == "Agentless":
        fields = {
            "experienceFlowName": snapshot.get("experienceFlowName")
            or defaults.experience_flow_name
        }
        detect = _machine_detect(snapshot.get("enableMachineDetect"), api)
        return fields | ({"enableMachineDetect": detect} if detect is not None else {})
    queue = snapshot.get("queue_name") or snapshot.get("connection") or defaults.queue_name
    fields = {"queue_name": queue}
    if mode == "Preview":
        skips = snapshot.get("maxSkips")
        fields["maxSkips"] = (
            skips if isinstance(skips, int) and not isinstance(skips, bool) else None
        )
    return fields


def _priority(value: Any) -> str | None:
    """Kore.ai takes the priority as a string "1".."5"; a number is turned into one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if value in ("1", "2", "3", "4", "5") else None


def _schedule(value: Any) -> dict[str, bool] | None:
    enabled = value.get("isSchedulingEnabled") if isinstance(value, Mapping) else None
    return {"isSchedulingEnabled": enabled} if isinstance(enabled, bool) else None


def _machine_detect(value: Any, api: str) -> bool | str | None:
    """v1 takes a boolean, v2 a word; a snapshot of the other kind is converted."""
    if api == "v2":
        if isinstance(value, bool):
            return "detect" if value else "no"
        return str(value) if value in V2_MACHINE_DETECT else None
    if value in V2_MACHINE_DETECT:
        return bool(value != "no")
    return bool(value) if isinstance(value, bool) else None


def _dnc_lists(value: Any, default: str | None) -> list[Any] | None:
    if isinstance(value, list) and value:
        return value
    return [{"name": default}] if default else None


def _absent(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _field_name(key: str) -> str:
    return "schedule.isSchedulingEnabled" if key == "schedule" else key


def _why_missing(field: str) -> str:
    if field in RESTORE_KEY_OF:
        return f"no {field} in the snapshot; set restore.{RESTORE_KEY_OF[field]} in the job"
    return f"no usable {field} in the snapshot"
