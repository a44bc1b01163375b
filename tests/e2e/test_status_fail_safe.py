"""Statuses bulkops cannot trust: odd spellings, no status, filters the server ignored.

A hostile server answers the list call; what reached it (DELETEs) and what the
audit log and the person read are checked. What bulkops cannot classify is never
permission to delete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import bulkops, write_job
from tests.e2e.hostile import HostileServer, as_json

PROTECT = {"protect_status": ["Active"]}
MISSING = "(no status)"  # the item carries no status key


def listing(*items: dict[str, Any]) -> Any:
    return lambda n: as_json({"status": "success", "data": {"results": list(items)}})


def deleted(n: int) -> tuple[int, bytes]:
    return as_json({"status": "success", "message": "Campaign deleted"})


def item(ident: str, status: object, **extra: object) -> dict[str, Any]:
    row: dict[str, Any] = {"_id": ident, "name": f"N {ident}", **extra}
    if status is not MISSING:
        row["status"] = status
    return row


HOSTILE = ["ACTIVE", "active", "Active ", ["Active"], MISSING, "Dialing", 7]


@pytest.mark.parametrize("status", HOSTILE, ids=repr)
@pytest.mark.parametrize("how", ["select", "ids"])
def test_a_status_bulkops_cannot_trust_as_written_is_protected(
    tmp_path: Path, status: object, how: str
) -> None:
    rows = listing(item("cd-odd", status), item("cd-old", "Stopped"))
    with HostileServer(list=rows, delete=deleted) as srv:
        chosen: dict[str, Any] = (
            {"select": {"name": "N *"}} if how == "select" else {"ids": ["cd-odd", "cd-old"]}
        )
        ids = chosen.pop("ids", None)
        job = write_job(tmp_path, srv, ids, run=PROTECT, **chosen)
        preview = bulkops("run", job, "--dry-run", cwd=tmp_path)
        assert preview.code == 0, preview.stderr
        would, _, kept = preview.stdout.partition("protected and would not be deleted")
        assert "cd-odd" not in would and "cd-odd" in kept, preview.stdout
        result = bulkops("run", job, "--yes", cwd=tmp_path)
        assert result.code == 0, result.stderr
        assert srv.calls["delete"] == 1  # cd-old only
    assert result.outcomes() == {"cd-odd": "protected", "cd-old": "deleted"}
    assert result.finished()["counts"]["protected"] == 1


def test_the_preview_table_shows_a_status_with_spaces_as_it_came(tmp_path: Path) -> None:
    with HostileServer(list=listing(item("cd-odd", "Active "))) as srv:
        job = write_job(tmp_path, srv, select={"name": "N *"}, run=PROTECT)
        preview = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert preview.code == 0, preview.stderr
    assert '"Active "' in preview.stdout, preview.stdout


def test_listed_campaigns_the_filters_do_not_match_are_left_alone(tmp_path: Path) -> None:
    rows = listing(
        item("cd-stopped", "Stopped", dialingMode="Preview", priority="2"),
        item("cd-scheduled", "Scheduled", dialingMode="Preview", priority="2"),
        item("cd-paused", "Paused", dialingMode="Preview", priority="2"),
        item("cd-progressive", "Completed", dialingMode="Progressive", priority="2"),
        item("cd-urgent", "completed ", dialingMode="preview", priority=5),
        item("cd-fine", "completed ", dialingMode="preview", priority=2),
    )
    select = {"status": ["Stopped", "Completed"], "dialing_mode": ["Preview"], "priority": [2]}
    with HostileServer(list=rows, delete=deleted) as srv:
        job = write_job(tmp_path, srv, select=select)
        listed = bulkops("list", job, "--output", "ids", cwd=tmp_path)
        assert listed.code == 0, listed.stderr
        assert set(listed.stdout.split()) == {"cd-stopped", "cd-fine"}
        result = bulkops("run", job, "--yes", cwd=tmp_path)
        assert result.code == 0, result.stderr
        assert srv.calls["delete"] == 2
    assert result.outcomes() == {"cd-stopped": "deleted", "cd-fine": "deleted"}
    for field, count in (("status", 2), ("dialing_mode", 1), ("priority", 1)):
        words = f"the server ignored the list call's filter select.{field}: {count} listed"
        assert words in result.stderr, result.stderr
