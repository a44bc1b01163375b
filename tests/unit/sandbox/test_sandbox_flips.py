"""The sandbox changes campaigns' statuses while a run goes on, and records when: by an admin
call, or on a schedule counted from the first campaign call (``--flip-active AFTER:N``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bulkops.sandbox import Sandbox, SandboxConfig, main
from bulkops.sandbox.flips import FlipClock, flips
from bulkops.sandbox.state import SandboxState
from tests.unit.sandbox.test_sandbox import call, campaign_url, delete


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def post(session: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with session.post(url, json=body) as r:
        return r.status, await r.json()


async def test_the_admin_call_makes_a_campaign_active_now_and_records_it(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox(SandboxConfig(campaigns=0)) as sb:
        cid, other = sb.add_campaigns([{"status": "Scheduled"}, {"status": "Ready"}])
        status, body = await post(session, f"{sb.url}/_sandbox/campaigns/{cid}/status",
                                  {"status": "Active"})  # fmt: skip
        assert status == 200
        change = body["data"]
        assert (change["campaign_id"], change["before"], change["status"]) == (
            cid, "Scheduled", "Active",
        )  # fmt: skip
        assert change["at_utc"].endswith("Z")
        status, got, _ = await call(session, "GET", campaign_url(sb, cid))
        assert (status, got["data"]["status"]) == (200, "Active")  # what a client sees from now
        assert (await delete(session, sb, cid))[0] == 200
        snap = sb.state.snapshot()
        assert snap["status_changes"] == [change]
        assert snap["deleted_at"][cid] >= change["at"]  # one clock: a test can subtract them
        assert live_status(sb, other) == "Ready"


async def test_the_admin_call_refuses_unknown_campaigns_and_bad_bodies(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox(SandboxConfig(campaigns=1)) as sb:
        (cid,) = sb.campaign_ids()
        base = f"{sb.url}/_sandbox/campaigns"
        assert (await post(session, f"{base}/cd-nope/status", {"status": "Active"}))[0] == 404
        for bad in ({"status": ""}, {"state": "Active"}, ["Active"]):
            status, body = await post(session, f"{base}/{cid}/status", bad)
            assert status == 400 and '{"status": "Active"}' in body["message"]
        assert sb.state.snapshot()["status_changes"] == []


async def test_scheduled_flips_count_from_the_first_call_and_happen_before_it_is_answered(
    session: aiohttp.ClientSession,
) -> None:
    config = SandboxConfig(campaigns=0, flip_active=("0:2", (3600, 1)))
    async with Sandbox(config) as sb:
        ids = sb.add_campaigns([{"status": "Completed"} for _ in range(5)])
        assert sb.state.snapshot()["status_changes"] == []  # no call yet: nothing flipped
        status, body, _ = await call(session, "GET", campaign_url(sb, ids[0]))
        changes = sb.state.snapshot()["status_changes"]
        assert len(changes) == 2  # the 0 s flip; the one an hour later is not due
        assert {c["status"] for c in changes} == {"Active"}
        assert {c["campaign_id"] for c in changes} <= set(ids)
        assert [live_status(sb, i) for i in ids].count("Active") == 2
        flipped = {c["campaign_id"] for c in changes}  # before this very call was answered:
        assert body["data"]["status"] == ("Active" if ids[0] in flipped else "Completed")


def test_the_flip_clock_counts_from_the_first_call_it_sees() -> None:
    clock = FlipClock(flips(["10:3", "2.5:1", (10, 2)]))
    assert [clock.due(t) for t in (100.0, 102.4, 102.5, 109.9, 110.0, 500.0)] == [0, 0, 1, 0, 5, 0]


def test_state_flips_only_live_campaigns_not_active_yet() -> None:
    state = SandboxState(SandboxConfig(campaigns=0, flip_active=((0, 5),)))
    active = state.store.add({"status": "Active"}).id
    gone = state.store.add({"status": "Ready"}).id
    state.store.delete(gone)
    others = [state.store.add({"status": "Paused"}).id for _ in range(2)]
    state.flip_due(7.0)
    changes = state.stats.status_changes
    assert sorted(c["campaign_id"] for c in changes) == sorted(others)  # 5 asked, 2 could go
    assert all(c["at"] == 7.0 and c["before"] == "Paused" for c in changes)
    assert active not in {c["campaign_id"] for c in changes}


def test_flip_settings_are_checked_and_can_be_set_while_it_runs() -> None:
    for bad in ("5", "x:1", "5:0", "-1:2", [(1, True)]):
        with pytest.raises(ValueError):
            SandboxConfig(flip_active=bad if isinstance(bad, list) else (bad,))
    state = SandboxState(SandboxConfig(campaigns=3))
    state.configure({"flip_active": [[0, 1]]})
    assert state.settings.as_json()["flip_active"] == [[0.0, 1]]
    state.flip_due(1.0)
    assert len(state.stats.status_changes) == 1


def test_cli_takes_flip_active_and_its_help_shows_both_ways(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--flip-active", "20"])
    assert exc.value.code == 2 and "AFTER_SECONDS:N" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--flip-active 20:3" in out and "/_sandbox/campaigns/CAMPAIGN_ID/status" in out
    # every example line that goes on ends with the shell's line continuation
    assert "--error-rate rate_limit=0.05 \\\n      --error-rate failure_body=0.02" in out


def live_status(sb: Sandbox, cid: str) -> str | None:
    campaign = sb.state.store.get(cid)
    return None if campaign is None else campaign.status
