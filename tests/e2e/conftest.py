from __future__ import annotations

from collections.abc import Iterator

import pytest

from bulkops.sandbox import SandboxThread


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread(campaigns=0, seed=7) as sb:
        yield sb
