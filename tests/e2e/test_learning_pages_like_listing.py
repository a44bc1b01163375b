"""An id job's preview pages the list API by the listing's rules, not looser ones of its own.

Before a dry run of ids, bulkops may page the list API instead of a GET for each id.
That paging goes on only on ``hasMore: true``: a ``"yes"`` or a ``1`` is not a promise
of more pages (the ids not yet seen get a GET each, never taken as gone), and a page
that brings no new id ends the run with exit 3 at once, not after every page the
server claims to have.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import bulkops, write_job
from tests.e2e.hostile import HostileServer, as_json

IDS = [f"cd-{i}" for i in range(1, 6)]


def page(ids: list[str], **extra: object) -> tuple[int, bytes]:
    results = [{"_id": i, "name": "N", "status": "Stopped"} for i in ids]
    return as_json({"status": "success", "data": {"results": results, **extra}})


def campaign(n: int) -> tuple[int, bytes]:
    return as_json({"status": "success", "data": {"_id": "x", "name": "N", "status": "Stopped"}})


@pytest.mark.parametrize("more", ["yes", 1])
def test_has_more_that_is_not_true_pages_no_further(tmp_path: Path, more: object) -> None:
    def listing(n: int) -> tuple[int, bytes]:  # new ids on every page, claims 3 pages
        return page([f"cd-{n}", f"other-{n}"], hasMore=more, totalPages=3)

    with HostileServer(list=listing, get=campaign) as srv:
        job = write_job(tmp_path, srv, IDS)
        result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 0 and "Traceback" not in result.stderr, result.stderr
    assert srv.calls["list"] == 1  # the page said no more as JSON knows it
    assert srv.calls["get"] == 4  # the ids it did not show are asked, not taken as gone
    assert "hasMore is not true or false" in result.stderr


def test_a_page_with_no_new_id_stops_the_preview_with_exit_3(tmp_path: Path) -> None:
    same = page(["cd-1", "other"], hasMore=True, totalPages=3)
    with HostileServer(list=lambda n: same, get=campaign) as srv:
        job = write_job(tmp_path, srv, IDS)
        result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 3 and "Traceback" not in result.stderr, result.stderr
    assert "hasMore is true, but the page brings no new campaign id" in result.stderr
    assert srv.calls["list"] == 2 and srv.calls["get"] == 0


def test_more_pages_than_total_results_allows_stop_the_preview(tmp_path: Path) -> None:
    def listing(n: int) -> tuple[int, bytes]:
        return page([f"cd-{n}", f"other-{n}"], hasMore=True, totalResults=3, totalPages=4)

    with HostileServer(list=listing, get=campaign) as srv:
        job = write_job(tmp_path, srv, IDS)
        result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 3 and "Traceback" not in result.stderr, result.stderr
    assert "(totalResults) fit in 2 pages" in result.stderr
    assert srv.calls["list"] == 2 and srv.calls["get"] == 0
