"""The sandbox, checked with a plain aiohttp client and pyjwt (never bulkops' own client)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
import pytest
from yarl import URL

from bulkops.sandbox import Sandbox, SandboxConfig, SandboxThread, main
from bulkops.sandbox.config import parse_rate
from bulkops.sandbox.state import RollingWindows, SandboxState

CFG = SandboxConfig()
RATE_MESSAGE = "Rate limit for this API has been reached. Please try again later"
REPO = Path(__file__).resolve().parents[3]


def token(**overrides: Any) -> str:
    now = int(time.time())
    claims = {"appId": CFG.client_id, "sub": "tests", "iat": now, "exp": now + 60}
    claims |= {"jti": uuid.uuid4().hex}
    secret = overrides.pop("secret", CFG.client_secret)
    claims |= overrides
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, secret, algorithm="HS256")


def headers(**overrides: Any) -> dict[str, str]:
    h = {"iid": CFG.app_id, "accountId": CFG.account_id}
    h["auth"] = overrides.pop("auth", None) or token(**overrides.pop("claims", {}))
    h |= overrides
    return h


def campaign_url(sb: Sandbox, cid: str, *, delete: bool = False, app: str = CFG.app_id) -> URL:
    query = "?campaignType=voice" if delete else ""
    path = f"/agentassist/api/v1/public/{app}/campaign/{quote(cid, safe='')}{query}"
    return URL(sb.url + path, encoded=True)


def list_url(sb: Sandbox) -> str:
    return f"{sb.url}/agentassist/api/v1/public/{CFG.app_id}/campaign/getAllCampaignDetails"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def sent_once() -> aiohttp.ClientMiddlewareType:
    """A request's middleware: aiohttp resends a dropped DELETE or GET once on its own,
    and these tests count what reached the sandbox, so the request leaves once."""
    sent = False

    async def middleware(
        request: aiohttp.ClientRequest, send: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        nonlocal sent
        if sent:
            raise aiohttp.ServerDisconnectedError("dropped; not resent")
        sent = True
        return await send(request)

    return middleware


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(campaigns=5)) as sandbox:
        yield sandbox


async def call(
    s: aiohttp.ClientSession, method: str, url: str | URL, **kw: Any
) -> tuple[int, Any, Any]:
    kw.setdefault("headers", headers())
    kw.setdefault("middlewares", (sent_once(),))
    async with s.request(method, url, **kw) as r:
        ctype = r.headers.get("Content-Type", "")
        body = await r.json() if "json" in ctype else await r.text()
        return r.status, body, r.headers


async def delete(s: aiohttp.ClientSession, sb: Sandbox, cid: str, **kw: Any) -> tuple[int, Any]:
    status, body, _ = await call(s, "DELETE", campaign_url(sb, cid, delete=True), **kw)
    return status, body


# ------------------------------------------------------------------ campaigns


async def test_delete_answers_the_campaign_then_404(sb: Sandbox, session: Any) -> None:
    cid = sb.campaign_ids()[0]
    status, body = await delete(session, sb, cid)
    assert status == 200 and body["status"] == "success"
    data = body["data"]
    assert body["message"] == f"Campaign {data['name']} deleted successfully"
    assert data["_id"] == cid and data["lname"] == data["name"].lower()
    assert {"dialingStrategy", "campaignInstanceId", "schedule", "contactLists"} <= set(data)
    assert await delete(session, sb, cid) == (
        404,
        {"status": "failure", "message": "Campaign not found"},
    )
    snap = sb.state.snapshot()
    assert snap["campaigns"][cid] == {"delete_requests": 2, "deletes": 1, "deleted": True}
    assert snap["deleted_ids"] == [cid] and snap["by_status"] == {"200": 1, "404": 1}
    assert cid not in sb.campaign_ids() and cid in sb.campaign_ids(include_deleted=True)


async def test_delete_needs_campaign_type(sb: Sandbox, session: Any) -> None:
    cid = sb.campaign_ids()[0]
    for suffix in ("", "?campaignType=sms"):
        url = URL(str(campaign_url(sb, cid)) + suffix, encoded=True)
        status, body, _ = await call(session, "DELETE", url)
        assert status == 400 and "campaignType" in body["message"]
    assert cid in sb.campaign_ids()


async def test_get_one_campaign(sb: Sandbox, session: Any) -> None:
    cid = sb.campaign_ids()[1]
    status, body, _ = await call(session, "GET", campaign_url(sb, cid))
    assert status == 200 and body["data"]["_id"] == cid and body["status"] == "success"
    assert (await call(session, "GET", campaign_url(sb, "cd-nope")))[0] == 404
    await delete(session, sb, cid)
    assert (await call(session, "GET", campaign_url(sb, cid)))[0] == 404
    assert sb.stats.by_method == {"GET": 3, "DELETE": 1}


@pytest.mark.parametrize(
    "cid", ["a%b+c:d?e#f", "%41", "x&y=z;w", "ünï-cødé", "cd-2129073-58d9-44d5-a5d1-454b1220xxxx"]
)
async def test_percent_encoded_ids_round_trip(sb: Sandbox, session: Any, cid: str) -> None:
    sb.add_campaigns([{"_id": cid, "name": "Odd"}])
    status, body, _ = await call(session, "GET", campaign_url(sb, cid))
    assert (status, body["data"]["_id"]) == (200, cid)
    status, body = await delete(session, sb, cid)
    assert (status, body["data"]["_id"]) == (200, cid)
    assert sb.stats.deleted_ids == [cid]


def _named(n: int, status: str, day: int, **extra: Any) -> dict[str, Any]:
    return (
        {"_id": f"c{n}", "name": f"Billing {n}", "status": status, "priority": "5"}
        | {"dialingMode": "Preview", "createdAt": f"2025-06-{day:02d}T10:00:00.000Z"}
        | extra
    )


async def test_list_pages_filters_and_orders_newest_first(session: Any) -> None:
    async with Sandbox() as sb:
        sb.add_campaigns(
            [
                _named(1, "Stopped", 1),
                _named(2, "Active", 2),
                _named(3, "Completed", 3, priority=2),
                _named(4, "Stopped", 3),  # same createdAt as c3: insertion order kept
                _named(5, "Stopped", 5, dialingMode="Agentless"),
            ]
        )
        body = {"type": "voice", "limit": 2, "filters": {"status": ["Stopped", "Completed"]}}
        seen, page = [], 1
        while True:
            status, answer, _ = await call(
                session, "POST", list_url(sb), json=body | {"page": page}
            )
            assert status == 200
            data = answer["data"]
            assert (data["totalResults"], data["totalPages"], data["limit"]) == (4, 2, 2)
            assert data["page"] == page and data["skip"] == (page - 1) * 2
            seen += [r["_id"] for r in data["results"]]
            if not data["hasMore"]:
                break
            page += 1
        assert seen == ["c5", "c3", "c4", "c1"]
        assert set(data["results"][0]) == {
            "_id", "name", "status", "priority", "dialingMode", "createdAt", "updatedAt",
            "contactLists",
        }  # fmt: skip
        body = {"type": "voice", "skip": 1, "limit": 10, "filters": {"priority": [5]}}
        _, answer, _ = await call(session, "POST", list_url(sb), json=body)
        assert [r["_id"] for r in answer["data"]["results"]] == ["c4", "c2", "c1"]
        body = {"type": "voice", "filters": {"dialingMode": ["Agentless"], "status": []}}
        _, answer, _ = await call(session, "POST", list_url(sb), json=body)
        assert [r["_id"] for r in answer["data"]["results"]] == ["c5"]
        assert len(sb.stats.list_calls) == 4 and sb.stats.list_calls[-1] == body


@pytest.mark.parametrize(
    "body",
    [
        {"type": "voice", "limit": 101},
        {"type": "sms"},
        {"limit": 10},
        {"type": "voice", "page": 0},
        {"type": "voice", "filters": {"state": ["Stopped"]}},
        [1, 2],
    ],
)
async def test_list_refuses_bad_bodies(sb: Sandbox, session: Any, body: Any) -> None:
    status, answer, _ = await call(session, "POST", list_url(sb), json=body)
    assert status == 400 and answer["status"] == "failure" and answer["message"]


async def test_list_id_field_variant(session: Any) -> None:
    async with Sandbox(campaigns=3, id_field="id") as sb:
        _, answer, _ = await call(session, "POST", list_url(sb), json={"type": "voice"})
        results = answer["data"]["results"]
        assert [r["id"] for r in results] == sb.campaign_ids() and "_id" not in results[0]


def test_seeded_data_is_deterministic_and_realistic() -> None:
    one, two = (
        SandboxState(SandboxConfig(campaigns=40, seed=9)),
        SandboxState(SandboxConfig(campaigns=40, seed=9)),
    )
    assert one.store.ids() == two.store.ids()
    campaigns = one.store.ordered()
    assert [c.name for c in campaigns] == [c.name for c in two.store.ordered()]
    assert all(
        re.fullmatch(r"cd-[0-9a-f]{7}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", c.id) for c in campaigns
    )
    assert len({c.status for c in campaigns}) >= 5 and {c.priority for c in campaigns} <= set(
        "12345"
    )
    assert [c.sort_key for c in campaigns] == sorted((c.sort_key for c in campaigns), reverse=True)
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", c.created_at) for c in campaigns
    )
    stamps = ("createdAt", "updatedAt")  # relative to now: may differ by a millisecond
    full_one, full_two = (
        {k: v for k, v in c.full().items() if k not in stamps}
        for c in (campaigns[0], two.store.ordered()[0])
    )
    assert full_one == full_two
    other = SandboxState(SandboxConfig(campaigns=3, seed=10, seed_ids=("x-1", "x-2")))
    assert {"x-1", "x-2"} <= set(other.store.ids()) and len(other.store) == 5


# ----------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    ("hdrs", "expected"),
    [
        ({"claims": {"secret": "a-different-secret-of-enough-length"}}, 401),
        ({"claims": {"appId": "cs-someone-else"}}, 401),
        ({"claims": {"exp": int(time.time()) - 60}}, 401),
        ({"claims": {"jti": None}}, 401),
        ({"claims": {"iat": None}}, 401),
        ({"auth": "not-a-jwt"}, 401),
        ({"iid": "st-other-app"}, 403),
        ({"accountId": "acc-other"}, 403),
    ],
)
async def test_auth_failures(
    sb: Sandbox, session: Any, hdrs: dict[str, Any], expected: int
) -> None:
    cid = sb.campaign_ids()[0]
    status, body = await delete(session, sb, cid, headers=headers(**hdrs))
    assert status == expected and body["status"] == "failure"
    assert cid in sb.campaign_ids() and sb.stats.arrivals == []  # not admitted, not counted


async def test_missing_token_wrong_path_app_and_reused_jti(sb: Sandbox, session: Any) -> None:
    cid = sb.campaign_ids()[0]
    no_token = {"iid": CFG.app_id, "accountId": CFG.account_id}
    assert (await delete(session, sb, cid, headers=no_token))[0] == 401
    url = campaign_url(sb, cid, delete=True, app="st-other-app")
    assert (await call(session, "DELETE", url))[0] == 403
    reused = headers()
    assert (await call(session, "GET", campaign_url(sb, cid), headers=reused))[0] == 200
    status, body = await delete(session, sb, cid, headers=reused)
    assert status == 401 and "jti" in body["message"] and cid in sb.campaign_ids()


async def test_auth_status_switch_answers_everything(sb: Sandbox, session: Any) -> None:
    sb.configure(auth_status=403)
    assert (await delete(session, sb, sb.campaign_ids()[0]))[0] == 403
    assert (await call(session, "POST", list_url(sb), json={"type": "voice"}))[0] == 403
    sb.configure(auth_status=None)
    assert (await delete(session, sb, sb.campaign_ids()[0]))[0] == 200


# ----------------------------------------------------------------- rate limit


def test_rolling_windows_are_strict() -> None:
    windows = RollingWindows([(3, 1.0), (4, 10.0)])
    assert [windows.admit(t) for t in (0.0, 0.1, 0.2)] == [None, None, None]
    assert windows.admit(0.5) == pytest.approx(0.5)  # 3 in the last second
    assert windows.admit(1.0) is None  # t=0.0 left the 1 s window
    assert windows.admit(1.5) == pytest.approx(8.5)  # now the 10 s window is full
    assert windows.admit(10.0) is None


@pytest.mark.parametrize("spec", ["20/s", "60/min", "1800/hour", "5/2s", "5/0.5s", "7 / 3 sec"])
def test_parse_rate(spec: str) -> None:
    count, window = parse_rate(spec)
    assert (count, window) in {(20, 1), (60, 60), (1800, 3600), (5, 2), (5, 0.5), (7, 3)}


@pytest.mark.parametrize("spec", ["", "5", "0/s", "5/0s", "5/fortnight", "x/s"])
def test_parse_rate_refuses(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(spec)


@pytest.mark.parametrize("mode", ["integer", "exact", "date", "none"])
async def test_rate_limit_answers_429_with_retry_after(session: Any, mode: str) -> None:
    async with Sandbox(campaigns=1, rates=("5/0.5s",), retry_after_mode=mode) as sb:
        url = campaign_url(sb, sb.campaign_ids()[0])
        answers = await asyncio.gather(*(call(session, "GET", url) for _ in range(7)))
        limited = [(b, h) for st, b, h in answers if st == 429]
        assert sorted(a[0] for a in answers) == [200] * 5 + [429] * 2
        assert all(b == {"status": "failure", "message": RATE_MESSAGE} for b, _ in limited)
        values = [h.get("Retry-After") for _, h in limited]
        if mode == "integer":
            assert values == ["1", "1"]
        elif mode == "exact":
            assert all(re.fullmatch(r"0\.\d{3}", v) and 0 < float(v) <= 0.5 for v in values)
        elif mode == "date":
            assert all(0 < parsedate_to_datetime(v).timestamp() - time.time() <= 2 for v in values)
        else:
            assert values == [None, None]
        snap = sb.state.snapshot()
        assert snap["rate_limited"] == 2 and snap["by_status"] == {"200": 5, "429": 2}
        assert len(snap["arrivals"]) == 5 and snap["total_requests"] == 7


async def test_rate_limit_window_frees_and_covers_all_calls(session: Any) -> None:
    async with Sandbox(campaigns=3, rates=[(3, 0.3)], retry_after_mode="exact") as sb:
        cid = sb.campaign_ids()[0]
        assert (await call(session, "POST", list_url(sb), json={"type": "voice"}))[0] == 200
        assert (await call(session, "GET", campaign_url(sb, cid)))[0] == 200
        assert (await delete(session, sb, cid))[0] == 200
        status, _, hdrs = await call(session, "GET", campaign_url(sb, cid))
        assert status == 429
        await asyncio.sleep(float(hdrs["Retry-After"]) + 0.01)
        assert (await call(session, "GET", campaign_url(sb, cid)))[0] == 404
        arrivals = sb.stats.arrivals
        assert all(b - a >= 0.3 for a, b in zip(arrivals, arrivals[3:], strict=False))


# --------------------------------------------------------------------- faults


async def test_scripted_statuses_then_normal(session: Any) -> None:
    scripted = {"c-a": [503, 503], "c-b": [400], "c-c": [429, 200]}
    cfg = SandboxConfig(scripted=scripted, fail_always={"c-d": 500}, scripted_retry_after=2.5)
    async with Sandbox(cfg) as sb:
        sb.add_campaigns([{"_id": c} for c in ("c-a", "c-b", "c-c", "c-d")])
        assert [(await delete(session, sb, "c-a"))[0] for _ in range(3)] == [503, 503, 200]
        status, body = await delete(session, sb, "c-b")
        assert (status, body["message"]) == (400, "Campaign is running and cannot be deleted")
        status, _, hdrs = await call(session, "DELETE", campaign_url(sb, "c-c", delete=True))
        assert (status, hdrs["Retry-After"]) == (429, "3")
        assert (await delete(session, sb, "c-c"))[0] == 200  # a 2xx in a script: normal
        assert [(await delete(session, sb, "c-d"))[0] for _ in range(3)] == [500] * 3
        assert set(sb.campaign_ids()) == {"c-b", "c-d"}
        assert sb.stats.deletes == {"c-a": 1, "c-c": 1} and sb.stats.rate_limited == 0


async def test_drop_closes_without_answer_and_deletes_nothing(sb: Sandbox, session: Any) -> None:
    cid = sb.campaign_ids()[0]
    sb.configure(scripted={cid: [0]})
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await delete(session, sb, cid)
    assert cid in sb.campaign_ids() and sb.stats.dropped == 1 and sb.stats.by_status == {}
    assert (await delete(session, sb, cid))[0] == 200


async def test_library_resend_after_drop_is_caught_by_jti(sb: Sandbox) -> None:
    sb.configure(drop_rate=1.0)
    async with aiohttp.ClientSession() as plain:  # aiohttp resends a dropped DELETE once...
        status, body = await delete(plain, sb, sb.campaign_ids()[0], middlewares=())
    assert status == 401 and "jti" in body["message"]  # ...with the same token
    snap = sb.state.snapshot()
    assert (snap["by_method"], snap["dropped"], snap["by_status"]) == ({"DELETE": 2}, 1, {"401": 1})


async def _statuses(seed: int, n: int, session: Any) -> list[int]:
    async with Sandbox(campaigns=1, seed=seed, error_rates={503: 0.3, 500: 0.2}) as sb:
        cid = sb.campaign_ids()[0]
        statuses = [(await call(session, "GET", campaign_url(sb, cid)))[0] for _ in range(n)]
        assert (await delete(session, sb, "cd-unknown"))[0] in (404, 500, 503)
        return statuses


async def test_error_rates_are_deterministic_by_seed(session: Any) -> None:
    first, again = await _statuses(7, 30, session), await _statuses(7, 30, session)
    assert first == again and {200, 500, 503} == set(first)
    assert await _statuses(8, 30, session) != first


async def test_faulted_deletes_delete_nothing(session: Any) -> None:
    async with Sandbox(campaigns=20, error_rates={503: 0.5}) as sb:
        statuses = {cid: (await delete(session, sb, cid))[0] for cid in sb.campaign_ids()}
        assert set(statuses.values()) == {200, 503}
        assert {c for c, st in statuses.items() if st == 503} == set(sb.campaign_ids())


async def test_non_json_answer(sb: Sandbox, session: Any) -> None:
    sb.configure(non_json_rate=1.0)
    status, body, hdrs = await call(session, "GET", campaign_url(sb, sb.campaign_ids()[0]))
    assert (status, body) == (502, "<html>Bad gateway</html>")
    assert hdrs["Content-Type"].startswith("text/html")


async def test_hang_makes_clients_time_out(sb: Sandbox, session: Any) -> None:
    cid = sb.campaign_ids()[0]
    sb.configure(hang_rate=1.0, hang_seconds=0.3)
    with pytest.raises(asyncio.TimeoutError):
        await delete(session, sb, cid, timeout=aiohttp.ClientTimeout(total=0.1))
    assert sb.stats.hung == 1 and cid in sb.campaign_ids()


async def test_latency_and_max_in_flight(session: Any) -> None:
    async with Sandbox(campaigns=6, latency=0.1) as sb:
        started = time.monotonic()
        answers = await asyncio.gather(*(delete(session, sb, cid) for cid in sb.campaign_ids()[:5]))
        elapsed = time.monotonic() - started  # a floor: load only adds to it
        assert [a[0] for a in answers] == [200] * 5 and elapsed >= 0.1
        # all five held at once, not one after another
        assert sb.stats.max_in_flight == 5 and sb.stats.in_flight == 0
        sb.configure(latency=60.0)
        sb.configure(latency=0.0)  # no longer held: answered well inside a 10 s timeout
        timeout = aiohttp.ClientTimeout(total=10)
        assert (await delete(session, sb, sb.campaign_ids()[0], timeout=timeout))[0] == 200


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SandboxConfig(client_secret="short")
    with pytest.raises(ValueError, match="drop_rate"):
        SandboxConfig(drop_rate=1.5)
    with pytest.raises(ValueError, match="add up"):
        SandboxConfig(drop_rate=0.6, error_rates={503: 0.6})
    with pytest.raises(ValueError, match="unknown setting"):
        SandboxState(SandboxConfig()).configure({"dorp_rate": 0.1})


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.com", ""])
async def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        await Sandbox(host=host).start()


async def test_localhost_and_other_loopback_addresses(session: Any) -> None:
    for host in ("localhost", "127.0.0.2"):
        async with Sandbox(host=host, campaigns=1) as sb:
            expected = "127.0.0.1" if host == "localhost" else host
            assert sb.url == f"http://{expected}:{sb.port}"
            assert (await call(session, "GET", sb.url + "/_sandbox/stats"))[0] == 200


# ------------------------------------------------------------ control endpoints


async def test_control_endpoints(sb: Sandbox, session: Any) -> None:
    base = sb.url + "/_sandbox"
    await delete(session, sb, sb.campaign_ids()[0])
    status, stats, _ = await call(session, "GET", base + "/stats", headers={})
    assert status == 200 and stats["total_requests"] == 1 and stats["by_method"] == {"DELETE": 1}
    status, settings, _ = await call(
        session, "POST", base + "/config", json={"rates": ["1/s"], "error_rates": {"503": 0.1}}
    )
    assert status == 200 and settings["rates"] == [[1, 1.0]]
    assert settings["error_rates"] == {"503": 0.1}
    status, body, _ = await call(session, "POST", base + "/config", json={"drop_rate": 2})
    assert status == 400 and "drop_rate" in body["message"]
    status, body, _ = await call(session, "POST", base + "/campaigns", json={"count": 3})
    assert status == 200 and len(body["data"]["added"]) == 3
    explicit = [{"_id": "cd-mine", "name": "Renewal Drive 8", "status": "Paused"}]
    status, body, _ = await call(session, "POST", base + "/campaigns", json=explicit)
    assert body["data"]["added"] == ["cd-mine"] and sb.state.store.get("cd-mine") is not None
    assert (await call(session, "POST", base + "/campaigns", json=explicit))[0] == 400
    assert len(sb.campaign_ids()) == 5 - 1 + 3 + 1
    assert (await call(session, "DELETE", base + "/stats"))[0] == 200
    _, stats, _ = await call(session, "GET", base + "/stats")
    assert stats["total_requests"] == 0 and stats["deleted_ids"] == []


# ---------------------------------------------------- thread and command line


def _urlopen(req: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.load(exc)


def test_sandbox_thread_for_synchronous_tests() -> None:
    with SandboxThread(campaigns=3, rates=("100/s",)) as sb:
        [added] = sb.add_campaigns([{"_id": "cd-thread", "status": "Stopped"}])
        assert added == "cd-thread" and len(sb.campaign_ids()) == 4
        url = f"{sb.url}/agentassist/api/v1/public/{CFG.app_id}/campaign/cd-thread"
        req = urllib.request.Request(url + "?campaignType=voice", method="DELETE")
        for key, value in headers().items():
            req.add_header(key, value)
        assert _urlopen(req)[0] == 200
        sb.configure(auth_status=401)
        req = urllib.request.Request(url, headers=headers())
        assert _urlopen(req)[0] == 401
        snap = sb.stats_snapshot()
        assert snap["deleted_ids"] == ["cd-thread"] and snap["by_status"] == {"200": 1, "401": 1}
        assert "cd-thread" in sb.campaign_ids(include_deleted=True)
        sb.clear_stats()
        assert sb.stats_snapshot()["total_requests"] == 0


def test_main_serves_until_sigterm(tmp_path: Path) -> None:
    ready, ids = tmp_path / "ready.json", tmp_path / "ids.txt"
    ids.write_text("# mine\ncd-from-file-1\n\n  cd-from-file-2  # second\n", encoding="utf-8")
    args = ["--port", "0", "--campaigns", "2", "--ready-file", str(ready), "--seed-ids", str(ids)]
    args += ["--rate", "50/s", "--error-rate", "503=0.0"]
    code = f"from bulkops.sandbox import main; raise SystemExit(main({args!r}))"
    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        info = json.loads(ready.read_text())
        assert info["url"] == f"http://127.0.0.1:{info['port']}" and info["pid"] == proc.pid
        assert (info["client_id"], info["app_id"]) == (CFG.client_id, CFG.app_id)
        url = f"{info['url']}/agentassist/api/v1/public/{CFG.app_id}/campaign/cd-from-file-2"
        assert _urlopen(urllib.request.Request(url, headers=headers()))[0] == 200
        _, stats = _urlopen(urllib.request.Request(info["url"] + "/_sandbox/stats"))
        assert stats["live_campaigns"] == 4 and stats["total_requests"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    text = out.decode()
    assert f"export KOREAI_CLIENT_SECRET={CFG.client_secret}" in text and CFG.account_id in text
    assert not ready.exists()


def test_main_help_and_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "example:" in capsys.readouterr().out
    bad_args = (["--rate", "5/fortnight"], ["--host", "0.0.0.0"], ["--drop-rate", "3"])
    for bad in (*bad_args, ["--seed-ids", "/nonexistent/ids.txt"], ["--error-rate", "503"]):
        with pytest.raises(SystemExit) as exc:
            main(bad)
        assert exc.value.code == 2
    with SandboxThread() as taken:
        assert main(["--port", str(taken.sandbox.port), "--quiet"]) == 1
    assert "cannot listen" in capsys.readouterr().err


async def test_arrival_jitter_delays_a_request_before_it_is_counted(session: Any) -> None:
    async with Sandbox(campaigns=8, arrival_jitter=0.15, rates=("8/s",)) as sb:
        sent = time.monotonic()
        answers = await asyncio.gather(*(delete(session, sb, c) for c in sb.campaign_ids()))
        assert [a[0] for a in answers] == [200] * 8
        delays = [t - sent for t in sb.stats.arrivals]
        # counted after their jitter: spread apart (no bound above: a loaded machine is late)
        assert min(delays) >= 0 and max(delays) - min(delays) > 0.05


async def test_more_apps_of_one_account_share_its_rate_limit(session: Any) -> None:
    async with Sandbox(campaigns=4, more_app_ids=("st-second-app",), rates=("3/s",)) as sb:
        first, second, third, fourth = sb.campaign_ids()
        assert (await delete(session, sb, first))[0] == 200
        url = campaign_url(sb, second, delete=True, app="st-second-app")
        status, _, _ = await call(session, "DELETE", url, headers=headers(iid="st-second-app"))
        assert status == 200
        mismatch = campaign_url(sb, third, delete=True, app="st-second-app")
        assert (await call(session, "DELETE", mismatch))[0] == 403  # iid names the other app
        unknown = campaign_url(sb, third, delete=True, app="st-x")
        assert (await call(session, "DELETE", unknown, headers=headers(iid="st-x")))[0] == 403
        assert (await delete(session, sb, third))[0] == 200
        assert (await delete(session, sb, fourth))[0] == 429  # the account's 3/s is spent
