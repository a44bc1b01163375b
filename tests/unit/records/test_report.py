"""bulkops report: exact numbers in every format, run selection, failed ids, bad lines, memory.

The fixture ``three_runs.jsonl`` holds (numbers worked out by hand below):
- R1, a real run: c1..c7; durations 100 250 80 120 900 300 700 ms, attempts 1 2 1 1 5 3 2;
  c4, c5, c7 failed; run_finished says 3.5 s.
- R2, a dry run: c8, c9 would_delete, c10 not_found, c12 failed (3 attempts); 40 60 50 70 ms; 2.0 s.
- R3, a real run that never finished (total 5): c4 deleted, c5 failed again, c11 not_found;
  150 500 30 ms; its lines span 2.5 s. Line 18 is not JSON; line 21 is torn (no newline).
"""

from __future__ import annotations

import csv
import io
import json
import random
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from bulkops.cli import report_command as report
from bulkops.records import report as report_records
from bulkops.records.latest_outcomes import LatestOutcomes
from bulkops.records.report import (
    ERROR_CHARS,
    FAILED_KEEP,
    LatencyHistogram,
    Report,
    summarize,
)

FIXTURE = Path(__file__).parents[2] / "fixtures" / "audit" / "three_runs.jsonl"
R1, R2, R3 = "20250101T020000Z-aaaaaa", "20250102T020000Z-bbbbbb", "20250103T100000Z-cccccc"


def counts(deleted: int = 0, not_found: int = 0, failed: int = 0, would_delete: int = 0,
           skipped: int = 0, pending: int = 0, protected: int = 0) -> dict[str, int]:  # fmt: skip
    return {"deleted": deleted, "not_found": not_found, "failed": failed,
            "would_delete": would_delete, "skipped": skipped, "pending": pending,
            "protected": protected}  # fmt: skip


def failed(campaign_id: str, status: int | None, error: str, latest: bool) -> dict[str, Any]:
    return {"campaign_id": campaign_id, "http_status": status, "error": error, "latest": latest}


NO_REQUESTS = {"requests": None, "requests_per_s": None, "requests_from": None}  # an older log


EXPECTED_RUNS = [
    {
        "run_id": R1, "job": "billing-cleanup", "dry_run": False,
        "counts": counts(deleted=3, not_found=1, failed=3), "duration_s": 3.5, **NO_REQUESTS,
        "total": 7, "started": "2025-01-01T02:00:00.000Z", "reason": "completed", "exit_code": 1,
        # sorted 80 100 120 250 300 700 900: ranks ceil(.5*7)=4, ceil(.95*7)=7, ceil(.99*7)=7
        "latency_ms": {"p50": 250, "p95": 900, "p99": 900},
        "retries": 8,  # 0+1+0+0+4+2+1
        "in_flight": 0,
        "rate_limit": [],  # no limit recorded
        # R3 deleted c4 and failed c5 again: only c7's failure here is still its latest
        "failed": [failed("c4", 400, "HTTP 400: campaign is running", False),
                   failed("c5", 503, "retries used up: HTTP 503", False),
                   failed("c7", None, "timeout after 30 s", True)],
    },
    {
        "run_id": R2, "job": "billing-cleanup", "dry_run": True,
        "counts": counts(not_found=1, failed=1, would_delete=2), "duration_s": 2.0,
        **NO_REQUESTS,
        "total": 4, "started": "2025-01-02T02:00:00.000Z", "reason": "completed", "exit_code": 1,
        "latency_ms": {"p50": 50, "p95": 70, "p99": 70},  # sorted 40 50 60 70: ranks 2, 4, 4
        "retries": 2,
        "in_flight": 0,
        "rate_limit": [],
        "failed": [failed("c12", 500, "retries used up: HTTP 500", False)],  # a preview's
    },
    {
        "run_id": R3, "job": "billing-cleanup", "dry_run": False,
        "counts": counts(deleted=1, not_found=1, failed=1, pending=2),  # 5 - 3 settled
        "duration_s": 2.5, **NO_REQUESTS, "total": 5,  # 10:00:00.000 -> 10:00:02.500
        "started": "2025-01-03T10:00:00.000Z", "reason": "unfinished", "exit_code": None,
        "latency_ms": {"p50": 150, "p95": 500, "p99": 500},  # sorted 30 150 500
        "retries": 1,
        "in_flight": 0,
        "rate_limit": [],
        "failed": [failed("c5", 500, "HTTP 500: internal error", True)],
    },
]  # fmt: skip
# each campaign of the real runs once, by its latest outcome: c1 c2 c4 c6 deleted, c3 c11
# not_found, c5 c7 failed; pending what the job's latest real run (R3) left
EXPECTED_TOTALS = counts(deleted=4, not_found=2, failed=2, pending=2)
EXPECTED_DRY_TOTALS = counts(not_found=1, failed=1, would_delete=2)


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = report.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_log(path: Path, records: list[dict[str, Any]], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return path


def started(run_id: str, total: int, *, dry_run: bool = False) -> dict[str, Any]:
    target = {"host": "https://h.example", "app_id": "st-a", "account_id": "a"}
    return {"event": "run_started", "ts": "2025-02-01T00:00:00.000Z", "run_id": run_id, "job": "j",
            "dry_run": dry_run, "total": total, "target": target}  # fmt: skip


def campaign(run_id: str, cid: str, outcome: str, **fields: Any) -> dict[str, Any]:
    record = {"event": "campaign", "ts": "2025-02-01T00:00:01.000Z", "run_id": run_id, "job": "j",
              "campaign_id": cid, "outcome": outcome, "http_status": 200, "attempts": 1,
              "duration_ms": 10, "message": None, "error": None, "campaign": None}  # fmt: skip
    return record | fields


# --- formats ---------------------------------------------------------------------------------


def test_json_has_exact_numbers_per_run_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, str(FIXTURE), "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "runs": EXPECTED_RUNS,
        "totals": EXPECTED_TOTALS,
        "dry_run_totals": EXPECTED_DRY_TOTALS,
    }
    assert list(json.loads(out)["runs"][0]) == list(EXPECTED_RUNS[0])  # the documented key order


def test_table_has_a_block_per_run_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, str(FIXTURE))
    assert code == 0
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 4
    first = blocks[0].splitlines()
    assert first[0].startswith(
        f"real run {R1}  job billing-cleanup  started 2025-01-01T02:00:00.000Z"
    )
    assert first[0].endswith("https://kore.example app st-app  completed (exit 1)")
    assert (
        first[1]
        == "  deleted 3  not_found 1  failed 3  would_delete 0  skipped 0  pending 0  protected 0"
        "  of 7"
    )
    assert first[2] == "  duration 3.5 s  latency p50 250 ms  p95 900 ms  p99 900 ms  retries 8"
    assert first[3] == (
        "  requests unknown (not recorded: an older bulkops wrote it, or the run was killed)"
    )
    # what --failed-ids prints: c4 was deleted and c5 failed again in R3, listed there
    assert [line.split()[:2] for line in first[6:7]] == [["c7", "-"]]
    assert "timeout after 30 s" in first[6]
    assert first[7] == "  2 campaigns that failed here had a later outcome"
    assert blocks[1].startswith(f"dry run {R2}")
    assert blocks[2].splitlines()[0].endswith("unfinished")
    assert blocks[3].splitlines() == [  # a preview deletes nothing: its counts stay apart
        "totals (2 real runs): deleted 4  not_found 2  failed 2  would_delete 0  skipped 0  "
        "pending 2  protected 0  (each campaign once, by its latest outcome)",
        "dry runs (1, nothing deleted): deleted 0  not_found 1  failed 1  would_delete 2  "
        "skipped 0  pending 0  protected 0  (the latest dry run of each job)",
    ]


def test_table_lists_20_failures_then_a_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [started("r", 25)] + [
        campaign("r", f"f{i:02}", "failed", error="boom") for i in range(25)
    ]
    code, out, _ = run_main(capsys, str(write_log(tmp_path / "a.jsonl", records)))
    assert code == 0
    assert "f19" in out and "f20" not in out
    assert "  … and 5 more (--format json lists them)" in out


def test_markdown_has_header_row_totals_and_failures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, str(FIXTURE), "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("| run | job |")))
    assert lines[header + 1].startswith("|---|")
    cells = [c.strip() for c in lines[header + 2].strip("|").split("|")]
    assert cells[:13] == [R1, "billing-cleanup", "real", "2025-01-01T02:00:00.000Z", "completed",
                          "1", "7", "3", "1", "3", "0", "0", "0"]  # fmt: skip
    assert lines[header + 5].startswith("| **totals** |")
    assert "### Failed campaigns" in lines
    assert f"| {R3} | c5 | 500 | HTTP 500: internal error |" in lines
    failures = lines[lines.index("### Failed campaigns") + 4 :]  # what --failed-ids prints
    assert failures == [f"| {R1} | c7 |  | timeout after 30 s |",
                        f"| {R3} | c5 | 500 | HTTP 500: internal error |"]  # fmt: skip


def test_csv_parses_one_row_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, str(FIXTURE), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["run_id"] for r in rows] == [R1, R2, R3]
    for row, expected in zip(rows, EXPECTED_RUNS, strict=True):
        assert {k: int(row[k]) for k in EXPECTED_TOTALS} == expected["counts"]
        assert int(row["retries"]) == expected["retries"]
        assert row["requests"] == row["requests_per_s"] == ""  # an older log: unknown
        assert int(row["p50_ms"]) == expected["latency_ms"]["p50"]
    assert rows[1]["dry_run"] == "true" and rows[2]["exit_code"] == ""


def test_hostile_text_cannot_break_markdown_csv_or_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [started("=cmd|x", 1), campaign("=cmd|x", "c1", "failed", error="a|b\x1b[2J\nc")]
    log = write_log(tmp_path / "a.jsonl", records)
    _, out, _ = run_main(capsys, str(log), "--format", "markdown")
    assert "| a\\|b [2J c |" in out
    _, out, _ = run_main(capsys, str(log), "--format", "csv")
    assert list(csv.reader(io.StringIO(out)))[1][0] == "'=cmd|x"
    _, out, _ = run_main(capsys, str(log))
    assert "\x1b" not in out


def test_empty_log_reports_no_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    assert run_main(capsys, str(log))[1].startswith("no runs recorded in")
    assert json.loads(run_main(capsys, str(log), "--format", "json")[1]) == {
        "runs": [], "totals": counts(), "dry_run_totals": counts()
    }  # fmt: skip


# --- selection and failed ids ----------------------------------------------------------------


def test_run_selects_one_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, str(FIXTURE), "--run", R2, "--format", "json")
    assert code == 0
    doc = {
        "runs": [EXPECTED_RUNS[1]],
        "totals": counts(),
        "dry_run_totals": counts(not_found=1, failed=1, would_delete=2),
    }
    assert json.loads(out) == doc


def test_unknown_run_exits_2_listing_the_latest_10(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, str(FIXTURE), "--run", "nope")
    assert (code, out) == (2, "")
    assert "no run 'nope'" in err and f"known: {R1}, {R2}, {R3}." in err and "--run" in err

    log = write_log(tmp_path / "a.jsonl", [started(f"run-{i:02}", 0) for i in range(12)])
    code, _, err = run_main(capsys, str(log), "--run", "nope")
    assert code == 2
    assert "the latest 10 of 12: run-02, run-03," in err and "run-01" not in err


def test_failed_ids_are_those_whose_latest_real_outcome_failed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # c4 failed in R1 but R3 deleted it; c12 failed only in the dry run R2
    code, out, _ = run_main(capsys, str(FIXTURE), "--failed-ids")
    assert (code, out) == (0, "c5\nc7\n")
    assert run_main(capsys, str(FIXTURE), "--failed-ids", "--run", R1)[1] == "c4\nc5\nc7\n"
    code, out, err = run_main(capsys, str(FIXTURE), "--failed-ids", "--run", R2)
    assert (code, out) == (0, "") and "only dry runs" in err


def test_failed_ids_flip_back_and_forth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [
        started("r1", 3), campaign("r1", "a", "failed"), campaign("r1", "b", "failed"),
        campaign("r1", "bad\nid", "failed"),
        started("r2", 2), campaign("r2", "a", "not_found"), campaign("r2", "b", "deleted"),
        started("r3", 2), campaign("r3", "b", "failed"), campaign("r3", "c", "failed"),
    ]  # fmt: skip
    assert (
        run_main(capsys, str(write_log(tmp_path / "a.jsonl", records)), "--failed-ids")[1]
        == "b\nc\n"
    )


# --- robustness ------------------------------------------------------------------------------


def test_bad_lines_are_warned_with_line_numbers_not_fatal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run_main(capsys, str(FIXTURE), "--format", "json")
    assert code == 0
    assert err.splitlines() == [
        f"{FIXTURE}:18: not JSON; ignored",
        f"{FIXTURE}:21: the last line is cut off (no newline): a crash?; ignored",
    ]


def test_many_bad_lines_are_counted_after_the_first_50(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text("junk\n" * 60)
    code, _, err = run_main(capsys, str(log))
    assert code == 0
    assert len(err.splitlines()) == 51 and err.splitlines()[-1].endswith(
        "… and 10 more bad lines ignored"
    )


@pytest.mark.parametrize("name", ["missing.jsonl", "."])
def test_unreadable_log_exits_2_with_a_hint(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, str(tmp_path / name))
    assert (code, out) == (2, "")
    assert "cannot read" in err and "check the path" in err


def test_a_run_without_run_started_still_counts(tmp_path: Path) -> None:
    log = write_log(tmp_path / "a.jsonl", [campaign("x", "c1", "deleted", attempts=3)])
    (run,) = summarize(log).runs
    assert (run.reason, run.total, run.dry_run, run.retries) == ("unfinished", None, None, 2)
    assert run.counts == counts(deleted=1)


def test_failed_entries_kept_per_run_are_capped(tmp_path: Path) -> None:
    n = FAILED_KEEP + 7
    records = [started("r", n)] + [
        campaign("r", f"c{i}", "failed", error="x" * 5000) for i in range(n)
    ]
    (run,) = summarize(write_log(tmp_path / "a.jsonl", records)).runs
    assert (len(run.failed), run.failed_more, run.counts["failed"]) == (FAILED_KEEP, 7, n)
    assert len(run.failed[0].error or "") == ERROR_CHARS


def test_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        report.main(["--help"])
    assert exc.value.code == 0
    assert "bulkops report audit/billing-cleanup.jsonl --failed-ids" in capsys.readouterr().out


def test_the_main_cli_delegates_report(capsys: pytest.CaptureFixture[str]) -> None:
    from bulkops import cli

    assert cli.main(["report", str(FIXTURE), "--failed-ids"]) == 0
    assert capsys.readouterr().out == "c5\nc7\n"


# --- percentiles and memory ------------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    hist = LatencyHistogram()
    assert hist.percentile(50) is None
    for ms in random.Random(1).sample(range(1, 101), 100):
        hist.add(ms)
    assert [hist.percentile(p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    hist = LatencyHistogram()
    hist.add(7)
    assert [hist.percentile(p) for p in (50, 95, 99)] == [7, 7, 7]


def test_long_latencies_are_within_1_percent_in_bounded_buckets() -> None:
    values = sorted(random.Random(2).uniform(1000, 5_000_000) for _ in range(20_000))
    hist = LatencyHistogram()
    for ms in values:
        hist.add(ms)
    for p in (50, 95, 99):
        exact = values[-(-p * len(values) // 100) - 1]
        assert abs((hist.percentile(p) or 0) - exact) <= 0.01 * exact
    assert len(hist._counts) < 900  # ~ log(5000)/log(1.01) buckets, not 20,000 values


def write_big_log(log: Path, per_run: int) -> Path:
    """Four runs of ``per_run`` campaign lines each: every tenth failed with a long error."""
    rng = random.Random(3)
    line = (
        '{{"event":"campaign","ts":"2025-02-01T00:00:01.000Z","run_id":"run-{run}","job":"j",'
        '"campaign_id":"cd-{run}-{i:06}","outcome":"{outcome}","http_status":{status},'
        '"attempts":{attempts},"duration_ms":{ms},"message":null,"error":{error},"campaign":null}}\n'
    )
    error = json.dumps("HTTP 500: " + "e" * 200)
    with log.open("w") as f:
        for run in range(4):
            f.write(json.dumps(started(f"run-{run}", per_run + 1)) + "\n")
            f.writelines(
                line.format(run=run, i=i, outcome="failed" if i % 10 == 0 else "deleted",
                            status=500 if i % 10 == 0 else 200, attempts=1 + i % 3,
                            ms=rng.randint(5, 90_000), error=error if i % 10 == 0 else "null")
                for i in range(per_run)
            )  # fmt: skip
    return log


def peak_memory_of_summarize(log: Path) -> tuple[int, Report]:
    tracemalloc.start()
    try:
        result = summarize(log)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def test_a_longer_log_costs_a_few_bytes_a_campaign_not_its_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the cap on failed campaigns kept for display is reached on the shorter log too
    monkeypatch.setattr(report_records, "FAILED_KEEP", 50)
    short, _ = peak_memory_of_summarize(write_big_log(tmp_path / "short.jsonl", 2_000))
    peak, result = peak_memory_of_summarize(write_big_log(tmp_path / "long.jsonl", 8_000))
    # what grows is the latest outcome of each campaign (a few bytes an id), never the lines
    # themselves (each over 250 bytes) nor the failures beyond the display cap
    per_line = (peak - short) / (4 * 6_000)
    assert per_line < 100, f"{short / 2**20:.2f} MiB, then {peak / 2**20:.2f} MiB"
    assert len(result.runs) == 4
    assert result.totals["failed"] == 4 * 800
    assert result.totals["pending"] == 1  # what job j's latest run left, not a sum over runs
    assert result.runs[0].retries == 7_999  # attempts 1, 2, 3, ...: 2,666 x (0+1+2), then 0
    assert all(len(r.failed) == 50 and r.failed_more == 750 for r in result.runs)
    assert len(result.failed_ids) == 4 * 800  # every failing id, none of them kept twice


# --- requests and totals ---------------------------------------------------------------------


def sent(run_id: str, cid: str) -> dict[str, Any]:
    return {"event": "sent", "ts": "2025-02-01T00:00:00.500Z", "run_id": run_id, "job": "j",
            "campaign_id": cid}  # fmt: skip


def finished(run_id: str, duration_s: float, **fields: Any) -> dict[str, Any]:
    return {"event": "run_finished", "ts": "2025-02-01T00:00:02.000Z", "run_id": run_id,
            "job": "j", "counts": {}, "duration_s": duration_s, "exit_code": 0,
            "reason": "completed", **fields}  # fmt: skip


def test_an_older_log_counts_its_sent_lines_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [
        started("r", 2) | {"rate": ["2/s"]},
        sent("r", "a"), sent("r", "a"), campaign("r", "a", "deleted", attempts=2),
        sent("r", "b"), campaign("r", "b", "deleted"),
        finished("r", 1.0),  # no `requests`: written before bulkops recorded them
    ]  # fmt: skip
    log = write_log(tmp_path / "a.jsonl", records)
    (run,) = json.loads(run_main(capsys, str(log), "--format", "json")[1])["runs"]
    assert (run["requests"], run["requests_from"]) == (3, "sent_lines")
    assert run["requests_per_s"] == 1.5  # 3 over 1.0 s + the 1 s window of 2/s
    assert run_main(capsys, str(log))[1].splitlines()[3] == (
        "  requests 3 DELETEs (counted from the sent lines: list calls and GETs are not in them)"
        "  1.5/s (over the run + one 1 s window)  against the limit 2/s (2.00/s)"
    )
    records[-1]["requests"] = 5  # what a run records now wins
    (run,) = summarize(write_log(tmp_path / "b.jsonl", records)).runs
    assert (run.requests, run.requests_from) == (5, "run_finished")


def test_a_campaign_in_flight_when_a_run_died_leaves_the_totals_once_settled(
    tmp_path: Path,
) -> None:
    records = [started("r1", 2), sent("r1", "a"), sent("r1", "b"), campaign("r1", "b", "deleted"),
               started("r2", 1), campaign("r2", "a", "not_found")]  # fmt: skip
    report = summarize(write_log(tmp_path / "a.jsonl", records[:4]))
    assert (report.in_flight, report.totals["deleted"]) == (1, 1)
    report = summarize(write_log(tmp_path / "b.jsonl", records))
    assert (report.in_flight, report.totals["not_found"], report.runs[0].in_flight) == (0, 1, 1)


def test_latest_outcomes_grow_and_move_campaigns_between_counts() -> None:
    table = LatestOutcomes(3)
    for i in range(5000):
        table.set(f"cd-{i}", i % 2)
    for i in range(0, 5000, 5):
        table.set(f"cd-{i}", 2)
    assert len(table) == 5000
    assert table.counts == [2000, 2000, 1000]
