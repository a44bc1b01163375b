"""Every test keeps the shared rate budget to itself: a tmp $XDG_STATE_HOME, no fleet store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import RedisServer


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
