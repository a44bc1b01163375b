"""A first signal before a run starts ends the command without a traceback, wherever in
the event loop it lands; a second one quits at once."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Iterator

import pytest

from bulkops.cli.signals import SignalGuard
from bulkops.errors import Interrupted


@pytest.fixture
def guard() -> Iterator[SignalGuard]:
    """A guard installed for SIGHUP only, as the CLI installs it for each of its signals."""
    guard = SignalGuard()
    previous = signal.signal(signal.SIGHUP, guard._python_handler)
    try:
        yield guard
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_signal_in_a_task_nobody_awaits_is_raised_to_the_command_without_a_traceback(
    guard: SignalGuard, caplog: pytest.LogCaptureFixture
) -> None:
    """As when SIGHUP lands in aiohttp's writer task while a selection is listed: raised
    there, the task kept it, and asyncio logged "Task exception was never retrieved"."""
    landed = asyncio.Event()

    async def writer() -> None:
        signal.raise_signal(signal.SIGHUP)  # its handler runs here, in this task
        landed.set()

    async def command() -> None:
        asyncio.get_running_loop().create_task(writer())
        await landed.wait()
        await asyncio.sleep(3600)  # the listing's next page, never reached

    signum = None
    with caplog.at_level("ERROR", logger="asyncio"):
        try:
            guard.run(command())
        except Interrupted as exc:
            signum = exc.signum
        gc.collect()  # asyncio logs a task's exception nobody retrieved as the task goes
    assert signum == signal.SIGHUP
    assert [r.getMessage() for r in caplog.records] == []


def test_a_signal_in_the_commands_own_code_is_raised_there_before_it_goes_on(
    guard: SignalGuard,
) -> None:
    """The prompt waits in the command's task and never yields to the loop: the signal
    must end it where it waits."""
    went_on: list[str] = []

    async def command() -> None:
        signal.raise_signal(signal.SIGHUP)
        went_on.append("the prompt read an answer")

    with pytest.raises(Interrupted):
        guard.run(command())
    assert went_on == []


def test_a_second_signal_before_the_loop_took_the_first_quits_at_once(
    guard: SignalGuard, monkeypatch: pytest.MonkeyPatch
) -> None:
    quit_with: list[int] = []
    monkeypatch.setattr("bulkops.cli.signals.os._exit", quit_with.append)

    async def writer() -> None:
        signal.raise_signal(signal.SIGHUP)
        signal.raise_signal(signal.SIGHUP)

    async def command() -> None:
        await asyncio.get_running_loop().create_task(writer())
        await asyncio.sleep(3600)

    with pytest.raises(Interrupted):
        guard.run(command())
    assert quit_with == [129]
