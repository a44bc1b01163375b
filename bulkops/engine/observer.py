"""What a run tells the person running it, and asks them: the engine's only way out.

The engine never prints. The CLI implements ``RunObserver`` (console lines,
the live progress, the confirmation prompt, signal handling while the
campaigns are worked on); tests implement it with a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from bulkops.model import Outcome


class RunObserver(Protocol):
    def info(self, event: str, message: str, **fields: Any) -> None:
        """Something worth saying (progress of the set-up, what resume skips)."""

    def warn(self, event: str, message: str, **fields: Any) -> None:
        """Something the person should look at; the run goes on."""

    def confirm(self, count: int) -> bool:
        """May ``count`` campaigns really be deleted? Asked once, before the first DELETE."""

    def work_started(self, todo: int, counts: Mapping[str, int]) -> None:
        """The pool starts on ``todo`` campaigns; ``counts`` is the run's live tally."""

    def settled(self, outcome: Outcome) -> None:
        """A campaign reached its outcome (already recorded and counted)."""

    async def work_ended(self) -> None:
        """The pool stopped, whatever the reason."""
