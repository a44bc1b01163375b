"""Every test keeps the shared rate budget to itself: a tmp $XDG_STATE_HOME, no fleet store.

Tests this run cannot or need not run (no redis-server; an aiohttp too new for
aioresponses; the wheel build outside CI) are skipped, and the run ends with one line
per reason saying so.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.redis_server import RedisServer
from tests.skips import NOT_RUN_HERE


@pytest.fixture(autouse=True)
def private_rate_budget(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The budget files of bulkops runs made in this test (in-process or as subprocesses
    that inherit the environment) live in a directory of this test's own, never in ~."""
    state = tmp_path_factory.mktemp("xdg-state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.delenv("BULKOPS_RATE_STORE", raising=False)
    return state


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A fresh redis-server of this test's own on a loopback port."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def aioresponses_cannot_serve() -> str | None:
    """Why aioresponses cannot mock the installed aiohttp, or None when it can."""
    from aioresponses import aioresponses

    async def one_mocked_request() -> int:
        with aioresponses() as mocked:
            mocked.get("https://kore.example/probe", status=204)
            async with (
                aiohttp.ClientSession() as session,
                session.get("https://kore.example/probe") as answer,
            ):
                return answer.status

    try:
        if asyncio.run(one_mocked_request()) == 204:
            return None
        problem = "a wrong status"
    except Exception as exc:  # noqa: BLE001 - whatever it is, the mocked tests cannot run
        problem = f"{type(exc).__name__}: {exc}"
    return (
        f"{NOT_RUN_HERE} aioresponses cannot mock aiohttp {aiohttp.__version__} ({problem}); "
        "`make test` runs them apart on an aiohttp it serves (make test-aioresponses)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` go first, so the workers start them at once rather than end
    on them. Tests of a module that imports aioresponses are marked ``aioresponses``, and
    skipped where it cannot mock the installed aiohttp."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable
    mocked = [item for item in items if hasattr(getattr(item, "module", None), "aioresponses")]
    for item in mocked:
        item.add_marker(pytest.mark.aioresponses)
    if mocked and (why := aioresponses_cannot_serve()):
        for item in mocked:
            item.add_marker(pytest.mark.skip(reason=why))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per reason this machine could not run some tests."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        if NOT_RUN_HERE in reason:
            reasons[reason.removeprefix("Skipped: ")] += 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"{reason} ({count} skipped)", yellow=True)
