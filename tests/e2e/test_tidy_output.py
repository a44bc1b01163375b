"""What a person reads is tidy: no header over an empty table, one order for `list`, singulars,
normalised paths, help that says what bulkops deletes, docs that list every exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bulkops.cli.main import build_parser, main
from bulkops.job import load_job
from bulkops.sandbox import SandboxThread
from tests.e2e.harness import REPO, SECRET, bulkops, write_job


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job's secret, for the commands these tests run in this process."""
    monkeypatch.setenv("KOREAI_CLIENT_SECRET", SECRET)


def test_list_has_no_header_over_nothing_and_says_1_id(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    (kept,) = sandbox.add_campaigns([{"status": "Stopped"}])
    job = write_job(tmp_path, sandbox, [kept, "cd-gone"], exclude=[kept])
    result = bulkops("list", job, cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout == ""  # no campaign: no table, not a header and a dashed line
    assert "0 campaigns on " in result.stderr
    assert f"1 id left out by exclude: {kept}" in result.stderr
    assert "1 id does not exist: cd-gone" in result.stderr


def test_list_table_is_in_the_same_order_as_json_and_csv_newest_first(
    tmp_path: Path,
    sandbox: SandboxThread,
    capsys: pytest.CaptureFixture[str],
) -> None:
    days = ["2026-01-03", "2026-01-01", "2026-01-04", "2026-01-02"]
    ids = sandbox.add_campaigns(
        [{"status": "Stopped", "createdAt": f"{day}T00:00:00.000Z"} for day in days]
    )
    job = write_job(tmp_path, sandbox, ids)  # an id job: the job's order is no order to show
    newest_first = [ids[2], ids[0], ids[3], ids[1]]
    assert main(["list", str(job)]) == 0
    table = capsys.readouterr().out.splitlines()[2:]
    assert [line.split()[0] for line in table] == newest_first
    assert main(["list", str(job), "--output", "json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)["campaigns"]] == newest_first
    assert main(["list", str(job), "--output", "ids"]) == 0
    assert capsys.readouterr().out.split() == newest_first


def test_a_preview_with_nothing_to_delete_shows_no_empty_table(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    live = sandbox.add_campaigns([{"status": "Active"}])
    job = write_job(tmp_path, sandbox, live, run={"protect_status": ["Active"]})
    result = bulkops("run", job, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"0 campaigns would be deleted from {sandbox.url}"
    assert lines.count("-" * len(live[0]) + "  " + "-" * 4) == 0  # no id/name rule over nothing
    assert sum(line.startswith("id ") for line in lines) == 1  # the protected table's only


def test_the_audit_log_path_is_shown_normalised(tmp_path: Path, sandbox: SandboxThread) -> None:
    (tmp_path / "jobs").mkdir()
    job = write_job(tmp_path / "jobs", sandbox, ["cd-gone"], audit_log="../audit/tidy.jsonl")
    assert load_job(job).audit_log == tmp_path / "audit" / "tidy.jsonl"
    result = bulkops("run", Path("jobs") / job.name, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "audit log audit/tidy.jsonl" in result.stderr and ".." not in result.stderr


def test_a_symbolic_link_keeps_its_dot_dot(tmp_path: Path, sandbox: SandboxThread) -> None:
    (tmp_path / "real" / "jobs").mkdir(parents=True)
    (tmp_path / "jobs").symlink_to(tmp_path / "real" / "jobs")  # jobs/.. is real/, not tmp_path
    job = write_job(tmp_path / "real" / "jobs", sandbox, ["cd-gone"], audit_log="../a.jsonl")
    assert load_job(tmp_path / "jobs" / job.name).audit_log == tmp_path / "jobs" / ".." / "a.jsonl"


def test_the_top_level_help_names_both_campaign_types() -> None:
    assert "voice and SMS campaigns" in build_parser().format_help()


def test_the_scheduling_docs_list_every_exit_code_the_readme_lists() -> None:
    def codes(path: Path) -> set[str]:
        table = re.search(r"## Exit codes\n(.*?)(?=\n## )", path.read_text(), re.S)
        assert table is not None
        return {c for row in re.findall(r"^\| ([\d /]+) \|", table.group(1), re.M)
                for c in row.split(" / ")}  # fmt: skip

    assert codes(REPO / "docs" / "scheduling.md") == codes(REPO / "README.md") == {
        "0", "1", "2", "3", "129", "130", "143",
    }  # fmt: skip
    docs = (REPO / "docs" / "scheduling.md").read_text()
    assert "the audit log could not be written" in docs and "rate budget" in docs
