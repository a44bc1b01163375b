"""The summary JSON and the Prometheus textfile: content, and atomic replacement."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bulkops.model import COUNT_KEYS, RunResult, zero_counts
from bulkops.records.summary_files import write_metrics, write_summary_json

Writer = Callable[[RunResult, Path], None]

RUN_ID = "20240501T023000Z-a1b2c3"
STARTED = "2024-05-01T02:30:00.250Z"
FINISHED = "2024-05-01T02:41:40.750Z"


def _summary(counts: dict[str, int] | None = None, **overrides: Any) -> RunResult:
    fields: dict[str, Any] = {
        "run_id": RUN_ID,
        "job": "nightly-cleanup",
        "dry_run": False,
        "audit_log": "/var/lib/bulkops/audit/nightly-cleanup.jsonl",
        "total": 120,
        "started_at": STARTED,
        "finished_at": FINISHED,
        "duration_s": 700.5,
        "requests": 131,
        "retries": 9,
        "rate_limited": 4,
        "list_calls": 2,
        "counts": {**zero_counts(), **(counts or {"deleted": 100, "not_found": 5, "skipped": 15})},
    }
    return RunResult(**{**fields, **overrides})


def successful() -> RunResult:
    return _summary()


def with_failures() -> RunResult:
    return _summary({"deleted": 90, "not_found": 5, "skipped": 15, "failed": 10}, exit_code=1)


def interrupted() -> RunResult:
    counts = {"deleted": 20, "not_found": 0, "skipped": 15, "pending": 85}
    return _summary(counts, exit_code=130, reason="interrupted", duration_s=12.0)


def never_started() -> RunResult:
    """What a run stopped before its first request leaves: no times, no counts."""
    return RunResult("20240501T023000Z-ffffff", "nightly-cleanup", False, "audit/x.jsonl")


def unix(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


Found = dict[tuple[str, frozenset[tuple[str, str]]], float]  # (name, labels) -> value


def samples(text: str) -> Found:
    found: Found = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Found, name: str, **labels: str) -> float:
    return found[(name, frozenset({"job": "nightly-cleanup", **labels}.items()))]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# --- summary JSON


@pytest.mark.parametrize("make", [successful, with_failures, interrupted])
def test_summary_json_has_the_run(tmp_path: Path, make: Callable[[], RunResult]) -> None:
    summary = make()
    path = tmp_path / "deep" / "dir" / "summary.json"
    write_summary_json(summary, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    expected_keys = {
        "run_id", "job", "dry_run", "counts", "total", "exit_code", "reason", "duration_s",
        "started_at", "finished_at", "audit_log", "requests", "retries", "rate_limited", "error",
    }  # fmt: skip
    assert expected_keys <= set(doc)
    assert "previews" not in doc
    assert doc["run_id"] == summary.run_id
    assert doc["job"] == "nightly-cleanup"
    assert doc["dry_run"] is False
    assert doc["counts"] == summary.counts
    assert list(doc["counts"]) == list(COUNT_KEYS)
    assert sum(doc["counts"].values()) == doc["total"] == 120
    assert doc["exit_code"] == summary.exit_code
    assert doc["reason"] == summary.reason
    assert doc["duration_s"] == summary.duration_s
    assert (doc["started_at"], doc["finished_at"]) == (STARTED, FINISHED)
    assert doc["audit_log"] == summary.audit_log
    assert (doc["requests"], doc["retries"], doc["rate_limited"]) == (131, 9, 4)
    assert doc["error"] is None
    assert leftovers(path.parent) == []


def test_summary_json_of_an_aborted_run_carries_the_error(tmp_path: Path) -> None:
    summary = _summary(exit_code=3, reason="aborted", error="cd-1: 401 unauthorized")
    summary.counts.update(deleted=0, not_found=0, failed=1, skipped=15, pending=104)
    path = tmp_path / "summary.json"
    write_summary_json(summary, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert (doc["exit_code"], doc["reason"]) == (3, "aborted")
    assert doc["error"] == "cd-1: 401 unauthorized"


# --- metrics


def test_metrics_of_a_successful_run(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "bulkops_nightly_cleanup.prom"
    write_metrics(successful(), path)
    found = samples(path.read_text(encoding="utf-8"))
    assert value(found, "bulkops_campaigns", outcome="deleted") == 100
    assert value(found, "bulkops_campaigns", outcome="not_found") == 5
    assert value(found, "bulkops_campaigns", outcome="skipped") == 15
    for outcome in ("failed", "would_delete", "pending"):
        assert value(found, "bulkops_campaigns", outcome=outcome) == 0
    assert value(found, "bulkops_last_run_start_timestamp_seconds") == pytest.approx(unix(STARTED))
    assert value(found, "bulkops_last_run_end_timestamp_seconds") == pytest.approx(unix(FINISHED))
    assert value(found, "bulkops_last_run_end_timestamp_seconds") == pytest.approx(1714531300.75)
    assert value(found, "bulkops_last_run_duration_seconds") == 700.5
    assert value(found, "bulkops_last_run_exit_code") == 0
    assert value(found, "bulkops_last_run_dry_run") == 0
    assert value(found, "bulkops_last_run_success") == 1
    assert value(found, "bulkops_rate_limited_responses") == 4
    assert value(found, "bulkops_retries") == 9
    assert value(found, "bulkops_requests") == 131
    assert value(found, "bulkops_last_run_info", run_id=RUN_ID, reason="completed") == 1


def test_metrics_of_a_run_with_failures(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    write_metrics(with_failures(), path)
    found = samples(path.read_text(encoding="utf-8"))
    assert value(found, "bulkops_campaigns", outcome="failed") == 10
    assert value(found, "bulkops_last_run_exit_code") == 1
    assert value(found, "bulkops_last_run_success") == 0


def test_metrics_of_an_interrupted_run(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    write_metrics(interrupted(), path)
    found = samples(path.read_text(encoding="utf-8"))
    assert value(found, "bulkops_campaigns", outcome="pending") == 85
    assert value(found, "bulkops_last_run_exit_code") == 130
    assert value(found, "bulkops_last_run_success") == 0
    assert value(found, "bulkops_last_run_duration_seconds") == 12.0
    assert value(found, "bulkops_last_run_info", run_id=RUN_ID, reason="interrupted") == 1


def test_metrics_of_a_dry_run(tmp_path: Path) -> None:
    summary = _summary(dry_run=True)
    summary.counts.update(deleted=0, not_found=0, would_delete=105)
    path = tmp_path / "m.prom"
    write_metrics(summary, path)
    found = samples(path.read_text(encoding="utf-8"))
    assert value(found, "bulkops_last_run_dry_run") == 1
    assert value(found, "bulkops_campaigns", outcome="would_delete") == 105


def test_metrics_without_times_leave_the_timestamps_out(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    write_metrics(never_started(), path)
    found = samples(path.read_text(encoding="utf-8"))
    names = {name for name, _ in found}
    assert "bulkops_last_run_start_timestamp_seconds" not in names
    assert "bulkops_last_run_end_timestamp_seconds" not in names
    assert value(found, "bulkops_campaigns", outcome="pending") == 0


def test_every_metric_has_help_type_and_the_job_label(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    write_metrics(successful(), path)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    families = list(text_string_to_metric_families(text))
    for family in families:
        assert family.documentation, family.name
        assert f"# TYPE {family.name} gauge" in text
        for sample in family.samples:
            assert sample.labels["job"] == "nightly-cleanup"
    assert all(name.startswith("bulkops_") for name in (f.name for f in families))


def test_the_refusals_metric_says_a_refusal_may_be_a_400(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    write_metrics(successful(), path)
    families = {f.name: f for f in text_string_to_metric_families(path.read_text("utf-8"))}
    help_text = families["bulkops_rate_limited_responses"].documentation
    assert "429" in help_text and "400" in help_text  # Kore.ai refuses with either


def test_label_values_are_escaped(tmp_path: Path) -> None:
    tricky = 'odd\\job "quoted"\nsecond line'
    summary = _summary(job=tricky, reason='a"b')
    path = tmp_path / "m.prom"
    write_metrics(summary, path)
    text = path.read_text(encoding="utf-8")
    assert len([line for line in text.splitlines() if line.startswith("bulkops_requests")]) == 1
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, sample.labels.get("outcome")] = sample.labels
    assert found["bulkops_requests", None]["job"] == tricky
    assert found["bulkops_campaigns", "failed"]["job"] == tricky
    assert found["bulkops_last_run_info", None]["reason"] == 'a"b'


# --- atomic replacement


@pytest.mark.parametrize("write", [write_summary_json, write_metrics])
def test_an_existing_file_is_replaced_whole(tmp_path: Path, write: Writer) -> None:
    path = tmp_path / "out.prom"
    path.write_text("old content\n" * 10_000, encoding="utf-8")
    write(successful(), path)
    text = path.read_text(encoding="utf-8")
    assert "old content" not in text
    assert "nightly-cleanup" in text
    assert leftovers(tmp_path) == []
    assert os.stat(path).st_mode & 0o777 == 0o644


@pytest.mark.parametrize("write", [write_summary_json, write_metrics])
def test_a_failed_rename_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Writer
) -> None:
    path = tmp_path / "out.prom"
    path.write_text("previous run\n", encoding="utf-8")
    seen: list[str] = []

    def broken_replace(src: str, dst: object) -> None:
        seen.append(os.path.basename(src))
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write(successful(), path)
    assert path.read_text(encoding="utf-8") == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.prom"]
    # the collector reads only *.prom: the half-written file must never match
    assert seen and not seen[0].endswith(".prom")
    assert seen[0].startswith(".out.prom.")


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out.prom"
    path.write_text("previous run\n", encoding="utf-8")

    def broken_fsync(fd: int) -> None:
        raise OSError("no space left")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="no space left"):
        write_metrics(successful(), path)
    assert path.read_text(encoding="utf-8") == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.prom"]


def test_no_secret_is_written(tmp_path: Path) -> None:
    # RunResult has no field for a secret; make sure none appears by accident
    secret_like = {"secret", "token", "password", "client_secret", "auth"}
    assert not secret_like & set(RunResult.__dataclass_fields__)
    write_summary_json(successful(), tmp_path / "s.json")
    write_metrics(successful(), tmp_path / "m.prom")
    for name in ("s.json", "m.prom"):
        text = (tmp_path / name).read_text(encoding="utf-8").lower()
        assert "secret" not in text and "token" not in text
