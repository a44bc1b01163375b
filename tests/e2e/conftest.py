from __future__ import annotations

from collections.abc import Iterator

import pytest

from bulkops.sandbox import SandboxThread


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxThread]:
    """The sandbox in its own dialect, or in the one a test names through indirect
    parametrization (``harness.BOTH_DIALECTS``, ``harness.KORE_DIALECT``)."""
    dialect = getattr(request, "param", "bulkops")
    with SandboxThread(campaigns=0, seed=7, dialect=dialect) as sb:
        yield sb
