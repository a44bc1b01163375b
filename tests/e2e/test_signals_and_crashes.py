"""Every signal from the first instant, crash bookkeeping, odd ids from the list API and
absurd history values: real signals to a real process against a real sandbox."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import (
    bulkops,
    count_lines,
    interrupt_after,
    read_audit,
    start_bulkops,
    wait_until,
    write_job,
)
from tests.e2e.test_terminal import Terminal


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_at_the_prompt_exits_with_its_code_and_a_summary(
    tmp_path: Path, sandbox: SandboxThread, sig: int, code: int
) -> None:
    ids = sandbox.add_campaigns(count=3)
    summary = tmp_path / "summary.json"
    job = write_job(tmp_path, sandbox, ids)
    term = Terminal("run", job, "--summary-json", summary, cwd=tmp_path)
    term.read_until("Type 'yes' to continue")
    term.proc.send_signal(sig)
    term.read_until("interrupted before anything was deleted")
    assert term.wait() == code
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]
    doc = json.loads(summary.read_text())
    assert doc["reason"] == "interrupted" and doc["exit_code"] == code
    assert read_audit(tmp_path / "audit.jsonl") == []


def test_sighup_while_the_selection_is_listed_exits_129_with_a_summary(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    sandbox.add_campaigns(count=3)
    sandbox.configure(latency=1.5)  # the list call is still unanswered at the signal
    summary, metrics = tmp_path / "summary.json", tmp_path / "m.prom"
    job = write_job(tmp_path, sandbox, select={"status": ["Stopped", "Completed", "Active"]},
                    run={"timeout": 10})  # fmt: skip
    proc = start_bulkops("run", job, "--yes", "--summary-json", summary, "--metrics-file",
                         metrics, cwd=tmp_path)  # fmt: skip
    wait_until("the list call", lambda: bool(sandbox.stats_snapshot()["total_requests"]), proc)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 129, err
    assert "Traceback" not in err and "interrupted before anything was deleted" in err
    assert json.loads(summary.read_text())["exit_code"] == 129
    assert 'bulkops_last_run_exit_code{job="e2e"} 129.0' in metrics.read_text()
    assert "DELETE" not in sandbox.stats_snapshot()["by_method"]


def test_sighup_during_the_run_settles_and_records_run_finished_with_129(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=60)
    summary, metrics = tmp_path / "summary.json", tmp_path / "m.prom"
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["20/s"], "concurrency": 4})
    proc = start_bulkops("run", job, "--yes", "--summary-json", summary, "--metrics-file",
                         metrics, cwd=tmp_path)  # fmt: skip
    code, _, err = interrupt_after(proc, sandbox, deleted=5, sig=signal.SIGHUP)
    assert code == 129, err
    finished = read_audit(tmp_path / "audit.jsonl")[-1]
    assert finished["event"] == "run_finished" and finished["reason"] == "interrupted"
    assert finished["exit_code"] == 129
    assert json.loads(summary.read_text())["exit_code"] == 129
    assert 'bulkops_last_run_exit_code{job="e2e"} 129.0' in metrics.read_text()


def test_a_run_killed_mid_request_is_known_to_have_been_in_flight(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=16)
    sandbox.configure(latency=1.0)  # a request stays in flight a second
    job = write_job(tmp_path, sandbox, ids, run={"concurrency": 4, "rate": ["100/s"]})
    log = tmp_path / "audit.jsonl"
    proc = start_bulkops("run", job, "--yes", cwd=tmp_path)

    def mid_request() -> bool:  # four outcomes, and a DELETE sent since
        sent, done = count_lines(log, "sent"), count_lines(log, "campaign")
        return done >= 4 and sent > done

    wait_until("a DELETE in flight after four outcomes", mid_request, proc)
    proc.kill()
    proc.communicate()
    killed = read_audit(log)
    in_flight = {r["campaign_id"] for r in killed if r["event"] == "sent"} - {
        r["campaign_id"] for r in killed if r["event"] == "campaign"
    }
    assert in_flight  # four workers were mid-request
    sandbox.configure(latency=0)
    again = bulkops("run", job, "--yes", cwd=tmp_path)
    assert again.code == 0, again.stderr
    were = f"{len(in_flight)} campaigns were" if len(in_flight) > 1 else "1 campaign was"
    assert f"{were} sent a DELETE by an earlier run" in again.stderr
    stats = sandbox.stats_snapshot()
    assert sorted(stats["deleted_ids"]) == sorted(ids)
    assert all(c["deletes"] == 1 for c in stats["campaigns"].values())

    report = bulkops("report", log, "--format", "json", cwd=tmp_path)
    runs = json.loads(report.stdout)["runs"]
    assert runs[0]["reason"] == "unfinished" and runs[0]["in_flight"] == len(in_flight)
    settled = sum(v for k, v in runs[0]["counts"].items() if k != "pending")
    assert runs[0]["counts"]["pending"] == 16 - settled - len(in_flight)
    assert json.loads(report.stdout)["totals"]["pending"] == 0  # not summed across runs
    table = bulkops("report", log, cwd=tmp_path)
    assert f"in flight when it stopped {len(in_flight)}" in table.stdout


def test_ids_from_the_list_api_pass_the_same_checks_and_odd_ones_are_never_sent(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    good = sandbox.add_campaigns([{"name": "Odd good", "status": "Stopped"}])
    odd = ["..", ".", "a/b", "cd-\u202eevil"]  # longer than 256: see test_selection_ids
    sandbox.add_campaigns({"_id": i, "name": "Odd one", "status": "Stopped"} for i in odd)
    job = write_job(tmp_path, sandbox, select={"name": "Odd*"})
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    stats = sandbox.stats_snapshot()
    assert stats["deleted_ids"] == good
    assert stats["by_method"]["DELETE"] == 1
    assert result.stderr.count("skipped, never sent") == len(odd)
    assert "\u202e" not in result.stderr and "\\u202e" in result.stderr


def test_dot_segments_in_a_job_are_refused(tmp_path: Path, sandbox: SandboxThread) -> None:
    for bad in ("..", "."):
        result = bulkops("validate", write_job(tmp_path, sandbox, ["cd-1", bad]), cwd=tmp_path)
        assert result.code == 2 and "dot-segment" in result.stderr


def test_absurd_history_values_are_ignored_with_a_warning(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=3)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["1000/s"]})
    target = {"host": sandbox.url, "app_id": "st-sandbox-app", "account_id": "acc-sandbox"}
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    lines = [{"event": "run_started", "ts": now, "run_id": "old", "job": "e2e", "dry_run": False,
              "total": 2, "target": target}]  # fmt: skip
    for n, attempts in enumerate(["1000000000", "1e20"]):
        lines.append({"event": "campaign", "ts": now, "run_id": "old", "job": "e2e",
                      "campaign_id": f"old-{n}", "outcome": "failed", "duration_ms": 5,
                      "attempts": attempts})  # fmt: skip
    text = "".join(json.dumps(x) + "\n" for x in lines)
    text = text.replace('"1000000000"', "1000000000").replace('"1e20"', "1e20")
    (tmp_path / "audit.jsonl").write_text(text)
    result = bulkops("run", job, "--yes", cwd=tmp_path, timeout=30)
    assert result.code == 0, result.stderr
    assert result.stderr.count("is not believable") == 2
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(ids)


def test_the_sent_record_costs_one_short_line_per_delete(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=5)
    result = bulkops("run", write_job(tmp_path, sandbox, ids), "--yes", cwd=tmp_path)
    assert result.code == 0
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    sent = [line for line in lines if '"event":"sent"' in line]
    assert len(sent) == 5 and all(len(line) < 200 for line in sent)
    dry = bulkops("run", write_job(tmp_path, sandbox, ids), "--dry-run", "--fresh", cwd=tmp_path)
    assert dry.code == 0
    assert len([x for x in read_audit(tmp_path / "audit.jsonl") if x["event"] == "sent"]) == 5


def test_sigterm_is_not_told_to_press_ctrl_c_and_the_summary_says_how_to_resume(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=40)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["20/s"], "concurrency": 2})
    proc = start_bulkops("run", job, "--yes", cwd=tmp_path)
    code, _, err = interrupt_after(proc, sandbox, 3, sig=signal.SIGTERM)
    assert code == 143
    assert "interrupted (SIGTERM): letting requests in flight finish" in err
    assert "Ctrl-C" not in err and "a second SIGTERM quits at once" in err
    assert "rerun the same command to resume: campaigns already done are skipped" in err
