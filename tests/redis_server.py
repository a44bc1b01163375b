"""A real redis-server on a loopback port, for the tests of the Redis budget store.

The system's ``redis-server`` is used; ``make test`` installs the Debian package when it
is missing and the machine allows it (root and apt). Without one the Redis tests are
skipped, except under ``CI=true``, where a missing server fails them.
The server keeps nothing on disk and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.skips import NOT_RUN_HERE

NO_SERVER = (
    f"{NOT_RUN_HERE} redis-server is not installed: the Redis budget-store tests need it "
    "(apt-get install redis-server, or `make test` as root)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, workdir: Path, *extra: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None and os.environ.get("CI") == "true":
            pytest.fail(NO_SERVER.removeprefix(NOT_RUN_HERE).strip() + " and CI=true requires them")
        if binary is None:
            pytest.skip(NO_SERVER)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self._answers():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
