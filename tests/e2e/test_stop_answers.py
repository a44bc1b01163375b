"""The Stop call before a DELETE: only a success lets the DELETE go.

A gateway without the Stop route answers a JSON 404 "Route not found" for every
campaign; that is not "the campaign is gone": only a DELETE's not-found answer is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import bulkops, write_job
from tests.e2e.hostile import HostileServer, Script, as_json

STOP_FIRST = {"protect_status": [], "stop_before_delete": True}


def live(n: int) -> tuple[int, bytes]:
    results = [{"_id": "cd-live", "name": "Dialing", "status": "Active"}]
    return as_json({"status": "success", "data": {"results": results}})


@pytest.mark.parametrize(
    "stop",
    [
        lambda n: as_json({"message": "Route not found"}, 404),
        lambda n: as_json({"status": "failure", "message": "could not stop"}),
        lambda n: (200, b"<html>gateway</html>"),
    ],
    ids=["json-404-route-not-found", "2xx-failure", "2xx-html"],
)
def test_a_stop_not_clearly_a_success_leaves_the_campaign_failed_for_the_next_run(
    tmp_path: Path, stop: Script
) -> None:
    deleted = as_json({"status": "success", "message": "Campaign deleted"})
    with HostileServer(list=live, stop=stop, delete=lambda n: deleted) as srv:
        job = write_job(tmp_path, srv, select={"name": "Dialing"}, run=STOP_FIRST)
        first = bulkops("run", job, "--yes", cwd=tmp_path)
        assert first.code == 1, first.stderr
        assert first.outcomes() == {"cd-live": "failed"}
        assert "the Stop call before it failed" in first.campaigns()[0]["error"]
        again = bulkops("run", job, "--yes", cwd=tmp_path)  # not skipped as gone: tried again
        assert again.outcomes() == {"cd-live": "failed"}
        assert srv.calls["stop"] == 2 and srv.calls["delete"] == 0
