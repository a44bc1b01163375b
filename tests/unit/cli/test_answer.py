"""The prompt's read hears a signal that came as it began to wait."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import pytest

from bulkops.cli.run_observer import answer
from bulkops.errors import Interrupted

WAITING = {"0", "7", "23", "270", "271"}  # x86_64 read, poll, select, pselect6, ppoll


def test_a_signal_the_blocked_read_never_saw_is_heard_without_a_second_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The signal is taken by another thread, as one that came just before the read began
    is taken before it: the main thread, in the kernel, gets no EINTR for it."""
    syscall = Path(f"/proc/self/task/{threading.get_native_id()}/syscall")
    if not syscall.exists():
        pytest.skip("needs /proc/self/task/<tid>/syscall (Linux)")
    readable, writable = os.pipe()
    monkeypatch.setattr(sys, "stdin", os.fdopen(readable, encoding="utf-8"))

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGUSR1, interrupted)
    answered, second_needed = threading.Event(), threading.Event()

    def signal_once_it_waits() -> None:
        while syscall.read_text().split()[0] not in WAITING:  # an event: the thread's state
            pass
        signal.raise_signal(signal.SIGUSR1)  # handled in this thread: no EINTR over there
        if not answered.wait(5):
            second_needed.set()
            os.write(writable, b"no\n")  # what the old read waited for

    helper = threading.Thread(target=signal_once_it_waits, daemon=True)
    helper.start()
    try:
        with pytest.raises(Interrupted):
            answer()
    finally:
        answered.set()
        helper.join(10)
        signal.signal(signal.SIGUSR1, previous)
        os.close(writable)
        sys.stdin.close()
    assert not second_needed.is_set()
