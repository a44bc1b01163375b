"""The sandbox's campaigns: made-up or given, live or deleted, and the list call's pages."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

STATUSES: tuple[str, ...] = ("Active", "Completed", "Ready", "Paused", "Preparing", "Stopped")
STATUSES += ("Scheduled", "Rescheduled")
STATUS_WEIGHTS = (12, 25, 10, 10, 5, 20, 10, 8)
DIALING_MODES = ("Agentless", "Preview", "Progressive")
NAME_STEMS = (
    "Billing Reminder",
    "Test Outbound",
    "Renewal Drive",
    "Payment Follow-up",
    "Customer Survey",
    "Appointment Confirmation",
    "Win-back Offer",
    "Delivery Notice",
)
CONTACT_LISTS = ("Recent Buyers - Q2 2025", "Overdue Accounts", "VIP Customers", "Trial Users")
TIMEZONES = ("Asia/Kolkata", "America/New_York", "Europe/London", "UTC")
QUEUES = ("Default Queue", "Billing Queue", "Sales Queue")  # Progressive and Preview campaigns
FLOWS = ("Billing Flow", "Survey Flow", "Reminder Flow")  # Agentless campaigns' experience flows
# Kept by the platform, but absent from a get or delete answer (only v2 list rows show the
# queue, as ``connection``): a restore must learn them from elsewhere.
HIDDEN_FIELDS = ("queue_name", "experienceFlowName")
SEED_SPAN = timedelta(days=120)


class BadRequest(ValueError):
    """A request the sandbox answers 400, with this message."""


def iso(when: datetime) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``, as Kore.ai writes timestamps."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{when.microsecond // 1000:03d}Z"
    )


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError(f"expected an ISO timestamp, got {value!r}")
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _hex_id(prefix: str, rng: random.Random) -> str:
    h = f"{rng.getrandbits(124):031x}"
    return f"{prefix}-{h[:7]}-{h[7:11]}-{h[11:15]}-{h[15:19]}-{h[19:31]}"


@dataclass(slots=True)
class Campaign:
    id: str
    name: str
    status: str
    priority: str
    dialing_mode: str
    created_at: str
    updated_at: str
    contact_lists: list[str]
    sort_key: float  # createdAt as a timestamp: the list is newest first
    extra: dict[str, Any]  # fields given explicitly beyond the summary ones

    def summary(self, id_field: str, api: str = "v1") -> dict[str, Any]:
        """A list row; v2 rows also name the queue, as ``connection``."""
        row = {
            id_field: self.id,
            "name": self.name,
            "status": self.status,
            "priority": self.priority,
            "dialingMode": self.dialing_mode,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "contactLists": list(self.contact_lists),
        }
        queue = self.queue_name()
        return row | {"connection": queue} if api == "v2" and queue else row

    def queue_name(self) -> str | None:
        """The queue a Progressive or Preview campaign dials for (given, else made up)."""
        if self.dialing_mode == "Agentless":
            return None
        return str(self.extra.get("queue_name") or random.Random(self.id).choice(QUEUES))

    def flow_name(self) -> str | None:
        """The experience flow an Agentless campaign runs (given, else made up)."""
        if self.dialing_mode != "Agentless":
            return None
        return str(self.extra.get("experienceFlowName") or random.Random(self.id).choice(FLOWS))

    def full(self) -> dict[str, Any]:
        """The whole object, shaped like the reference sample; details derive from the id."""
        rng = random.Random(self.id)  # str seeds are hashed with sha512: stable across runs
        hours = {"start": "9:00 AM", "end": "6:00 PM"}
        data = self.summary("_id") | {
            "lname": self.name.lower(),
            "description": f"{self.dialing_mode} dialing campaign: {self.name}.",
            "dialingStrategy": {
                "callerId": {"phoneNumber": f"+1812{rng.randrange(10**7):07d}"},
                "callingHours": {
                    "frequency": "WEEKLY",
                    "days": [hours | {"day": d} for d in ("MO", "TU", "WE", "TH", "FR")],
                    "timezone": rng.choice(TIMEZONES),
                },
                "dialingOrder": rng.choice(("FIFO", "LIFO")),
                "maxAttemptsPerRecord": rng.randint(1, 5),
                "defaultRetryPeriod": rng.choice((5, 10, 15, 30)),
                "maxRingTime": rng.choice((20, 30, 45)),
            },
            "maxSkips": rng.randint(0, 3),
            "schedule": {"isSchedulingEnabled": False, "isRecurrenceEnabled": False},
            "campaignInstanceId": _hex_id("cid", rng),
            "enableMachineDetect": rng.random() < 0.3,
        }
        if (flow := self.flow_name()) is not None:  # get/delete show the flow's id, not its name
            data["experienceFlow"] = _hex_id("ef", random.Random(flow))
        shown = {k: v for k, v in self.extra.items() if k not in HIDDEN_FIELDS}
        return data | shown


_SUMMARY_KEYS: tuple[str, ...] = (
    "_id",
    "id",
    "name",
    "status",
    "priority",
    "dialingMode",
    "createdAt",
)
_SUMMARY_KEYS += ("updatedAt", "contactLists")


class CampaignStore:
    """Live campaigns by id, the deleted ones kept aside so a second delete is a 404."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng  # seeded: same seed, same campaigns (up to ``now``)
        self._live: dict[str, Campaign] = {}
        self._deleted: dict[str, Campaign] = {}
        self._ordered: list[Campaign] | None = None  # newest first; None when stale
        self._added = 0  # numbers generated names
        # contact lists that exist: the seeded ones and every one a campaign names
        self.contact_lists: set[str] = set(CONTACT_LISTS)

    def _random_fields(self, now: datetime) -> dict[str, Any]:
        rng = self._rng
        created = now - SEED_SPAN * rng.random()
        return {
            "name": f"{rng.choice(NAME_STEMS)} {self._added + 1}",
            "status": rng.choices(STATUSES, STATUS_WEIGHTS)[0],
            "priority": str(rng.randint(1, 5)),
            "dialingMode": rng.choice(DIALING_MODES),
            "createdAt": created,
            "updatedAt": min(now, created + timedelta(days=14) * rng.random()),
            "contactLists": rng.sample(CONTACT_LISTS, rng.randint(1, 2)),
        }

    def add(self, given: Mapping[str, Any] | None = None) -> Campaign:
        """Add one campaign; fields not ``given`` are made up (seeded). Returns it."""
        given = dict(given or {})
        cid = given.get("_id", given.get("id")) or _hex_id("cd", self._rng)
        if not isinstance(cid, str) or not 1 <= len(cid) <= 256:
            raise ValueError(f"campaign id must be a string of 1 to 256 characters: {cid!r}")
        if cid in self._live:
            raise ValueError(f"campaign {cid!r} already exists")
        f = self._random_fields(datetime.now(timezone.utc)) | given
        created, updated = _parse_time(f["createdAt"]), _parse_time(f["updatedAt"])
        campaign = Campaign(
            id=cid,
            name=str(f["name"]),
            status=str(f["status"]),
            priority=str(f["priority"]),
            dialing_mode=str(f["dialingMode"]),
            created_at=iso(created),
            updated_at=iso(updated),
            contact_lists=[str(x) for x in f["contactLists"]],
            sort_key=created.timestamp(),
            extra={k: v for k, v in given.items() if k not in _SUMMARY_KEYS},
        )
        self._added += 1
        self.contact_lists.update(campaign.contact_lists)
        self._deleted.pop(cid, None)
        self._live[cid] = campaign
        self._ordered = None
        return campaign

    def generate(self, count: int) -> list[str]:
        return [self.add().id for _ in range(count)]

    def get(self, cid: str) -> Campaign | None:
        return self._live.get(cid)

    def delete(self, cid: str) -> Campaign | None:
        """Remove and return the campaign, or None if unknown or already deleted."""
        campaign = self._live.pop(cid, None)
        if campaign is not None:
            self._deleted[cid] = campaign
            self._ordered = None
        return campaign

    def named(self, name: str) -> Campaign | None:
        """The live campaign called ``name``, compared case-insensitively as Kore.ai's
        ``lname`` does; None if there is none."""
        lname = name.lower()
        return next((c for c in self._live.values() if c.name.lower() == lname), None)

    def new_id(self) -> str:
        """A fresh campaign id that no campaign has had."""
        while (cid := _hex_id("cd", self._rng)) in self._live or cid in self._deleted:
            pass
        return cid

    def is_deleted(self, cid: str) -> bool:
        return cid in self._deleted

    def ids(self, include_deleted: bool = False) -> list[str]:
        live = [c.id for c in self.ordered()]
        return live + list(self._deleted) if include_deleted else live

    def ordered(self) -> list[Campaign]:
        if self._ordered is None:  # sorted() is stable, reverse=True included
            self._ordered = sorted(self._live.values(), key=lambda c: c.sort_key, reverse=True)
        return self._ordered

    def __len__(self) -> int:
        return len(self._live)


_FILTERS = {"status": "status", "priority": "priority", "dialingMode": "dialing_mode"}


def _int_field(body: Mapping[str, Any], key: str, default: int | None, low: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BadRequest(f"{key} must be an integer >= {low}")
    return value


def list_page(
    store: CampaignStore, body: Any, campaign_type: str, id_field: str, api: str = "v1"
) -> dict[str, Any]:
    """The ``data`` of a getAllCampaignDetails answer; BadRequest for a body we refuse."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    if body.get("type") != campaign_type:
        raise BadRequest(f"type must be '{campaign_type}'")
    limit = _int_field(body, "limit", 10, 1) or 10
    if limit > 100:
        raise BadRequest("limit must be at most 100")
    page = _int_field(body, "page", 1, 1) or 1
    skip = _int_field(body, "skip", None, 0)
    offset = (page - 1) * limit if skip is None else skip
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise BadRequest("filters must be an object")
    wanted = []
    for key, values in filters.items():
        if key not in _FILTERS:
            raise BadRequest(f"unknown filter {str(key)[:40]!r}; known: {', '.join(_FILTERS)}")
        values = values if isinstance(values, list) else [values]
        if values:
            wanted.append((_FILTERS[key], {str(v) for v in values}))
    matches = [c for c in store.ordered() if all(getattr(c, a) in vs for a, vs in wanted)]
    total = len(matches)
    return {
        "results": [c.summary(id_field, api) for c in matches[offset : offset + limit]],
        "hasMore": offset + limit < total,
        "totalPages": math.ceil(total / limit),
        "totalResults": total,
        "skip": offset,
        "limit": limit,
        "page": offset // limit + 1,
    }
