"""The one id validator wherever ids come from, and what history believes when read back."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from bulkops.engine.selection import resolve
from bulkops.errors import JobError
from bulkops.ids import id_problem, shown, validate_campaign_id
from bulkops.model import Answer, Selection
from bulkops.records.history import read_history
from bulkops.records.report import summarize

HOST, APP = "https://kore.example", "st-a"


@pytest.mark.parametrize("bad", [".", "..", "a/b", "x" * 257, "cd-\u202eevil", "a b", ""])
def test_every_id_rule_holds(bad: str) -> None:
    assert id_problem(bad) is not None
    with pytest.raises(JobError):
        validate_campaign_id(bad, "where")


def test_ids_with_dots_inside_are_still_ids() -> None:
    assert id_problem("...") is None and id_problem("a..b") is None and id_problem(".x") is None


def test_shown_escapes_control_and_bidi_characters_and_cuts_long_ids() -> None:
    assert shown("cd-\u202eevil") == "'cd-\\u202eevil'"
    assert shown("a\x1b[2Jb") == "'a\\x1b[2Jb'"
    assert len(shown("x" * 5000)) < 100


def test_list_answers_pass_the_same_checks_and_bad_ids_are_reported_not_chosen() -> None:
    items = [{"_id": i, "name": "n"} for i in ("ok-1", "..", "a/b", "x" * 5000, "\u202e", "ok-2")]

    async def page(body: dict[str, Any]) -> Answer:
        return Answer(200, None, {"results": items, "hasMore": False})

    refused: list[tuple[str, str]] = []
    chosen, pages = asyncio.run(
        resolve(page, Selection(), campaign_type="voice", now=datetime.now(timezone.utc),
                on_invalid=lambda cid, problem: refused.append((cid, problem)))
    )  # fmt: skip
    assert [c.id for c in chosen] == ["ok-1", "ok-2"] and pages == 1
    assert [cid for cid, _ in refused] == ["..", "a/b", "x" * 5000, "\u202e"]


def write_log(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def started(run_id: str) -> dict[str, Any]:
    return {"event": "run_started", "run_id": run_id, "dry_run": False,
            "target": {"host": HOST, "app_id": APP, "account_id": "acc"}}  # fmt: skip


def line(event: str, run_id: str, cid: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {"event": event, "run_id": run_id, "campaign_id": cid, "ts": ts, **fields}


def test_sent_without_outcome_is_in_flight_and_its_time_preloads_the_budget(
    tmp_path: Path,
) -> None:
    log = tmp_path / "a.jsonl"
    t = "2030-01-01T00:00:0{}.000Z".format
    write_log(log, [
        started("r1"),
        line("sent", "r1", "a", t(1)), line("campaign", "r1", "a", t(2), outcome="deleted",
                                            attempts=1, duration_ms=900),
        line("sent", "r1", "b", t(3)), line("sent", "r1", "c", t(3)),
        started("r2"),
        line("sent", "r2", "c", t(5)), line("campaign", "r2", "c", t(6), outcome="not_found",
                                            attempts=1, duration_ms=100),
    ])  # fmt: skip
    history = read_history(log, HOST, APP, keep_answers=10)
    assert history.in_flight == ["b"]  # c was settled by the next run
    assert history.done == {"a", "c"}
    base = datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()
    # settled: the time of the outcome line, by which the request surely had arrived
    assert [s - base for s in history.recent_answers] == [2, 6]
    # unanswered (b, and c in r1): when they were sent; the run adds its timeout
    assert [s - base for s in history.in_flight_sent] == [3, 3]


@pytest.mark.parametrize("attempts", [1_000_000_000, 1e20, -3, "many", True])
def test_absurd_attempts_are_ignored_with_a_problem_not_a_crash(
    tmp_path: Path, attempts: object
) -> None:
    log = tmp_path / "a.jsonl"
    ts = "2030-01-01T00:00:01.000Z"
    bad = line("campaign", "r1", "a", ts, outcome="failed", attempts=attempts, duration_ms=5)
    write_log(log, [started("r1"), bad])
    history = read_history(log, HOST, APP, keep_answers=60)
    assert history.recent_answers == []
    assert [p.lineno for p in history.problems] == [2]
    assert "not believable" in history.problems[0].problem


def test_failed_ids_printed_for_reuse_pass_the_same_checks(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    ts = "2030-01-01T00:00:01.000Z"
    odd = ["..", ".", "a/b", "\u202e"]
    write_log(log, [started("r1"), *(line("campaign", "r1", c, ts, outcome="failed")
                                     for c in ["ok", *odd])])  # fmt: skip
    assert summarize(log).failed_ids == ("ok",)
