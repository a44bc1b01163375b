"""Every problem of a job file at once, each FILE:LINE: field: problem, with YAML's traps named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkops.cli.main import main
from tests.e2e.harness import SECRET, bulkops


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOREAI_CLIENT_SECRET", SECRET)


def validate(job: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The CLI in this process: the same code path as the subprocess, a second faster."""
    code = main(["validate", str(job)])
    return code, capsys.readouterr().err


GOOD_HEAD = """version: 1
name: nightly
target: {host: "https://platform.kore.ai", app_id: st-1, account_id: acc-1}
auth: {client_id: cs-1, client_secret_env: KOREAI_CLIENT_SECRET}
"""


def test_validate_lists_every_problem_with_its_line_and_field(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\n"
        "name: Nightly\n"  # 2: capital letter
        "target:\n"
        "  host: https://platform.kore.ai\n"
        "  app_id: st-1\n"
        "  acount_id: acc-1\n"  # 6: typo
        "auth: {client_id: cs-1, client_secret_env: KOREAI_CLIENT_SECRET}\n"
        "campaigns: [cd-1, 'a/b', cd-3]\n"  # 8: a bad id
        "run:\n"
        "  concurrency: lots\n"  # 10
        "  rate: 60/fortnight\n"  # 11
        "  protect_status: [Actve]\n"  # 12
    )
    result = bulkops("validate", job, cwd=tmp_path)
    assert result.code == 2 and result.stdout == ""
    lines = result.stderr.removeprefix("error: ").splitlines()
    assert [line.split(": ")[:2] for line in lines[:-1]] == [
        [f"{job}:2", "name"],
        [f"{job}:3", "target.account_id"],  # missing, as the typo on line 6 left it
        [f"{job}:6", "target"],
        [f"{job}:8", "campaigns[1]"],
        [f"{job}:10", "run.concurrency"],
        [f"{job}:11", "run.rate"],
        [f"{job}:12", "run.protect_status[0]"],
    ]
    assert "unknown key 'acount_id' (did you mean 'account_id'?)" in lines[2]
    assert "(did you mean 'Active'?)" in lines[6]
    assert lines[-1] == "(7 problems; nothing was sent)"


def test_a_file_wrong_everywhere_gets_a_bounded_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(GOOD_HEAD + "campaigns:\n" + "".join(f"  - a/{i}\n" for i in range(45)))
    code, err = validate(job, capsys)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 21 and lines[-1] == "… and 25 more problems"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("*Test", "name: YAML reads a value starting with '*' as an alias"),
        ("&x Test", "name: YAML reads a value starting with '&' as an anchor"),
        ("Billing: old", "a ': ' inside a value starts a mapping: quote the value"),
        ("no", "select.name: expected a string, got 'no', which YAML reads as the boolean false"),
    ],
)
def test_yaml_traps_are_named_with_the_field_and_how_to_quote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, said: str
) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(GOOD_HEAD + f"select:\n  name: {value}\n")
    code, err = validate(job, capsys)
    assert code == 2
    assert f"{job}:6" in err and said in err and "quote" in err


def test_a_hash_that_silently_ends_a_value_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(GOOD_HEAD + "select:\n  name: Billing #2\n  status: [Stopped]  # old ones\n")
    code, err = validate(job, capsys)
    assert code == 0
    assert f"warning: {job}:6: '#2' after a space starts a YAML comment" in err
    assert ":7:" not in err  # an ordinary comment is no trap


def test_a_hint_never_echoes_what_may_be_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(GOOD_HEAD.replace("client_secret_env: KOREAI_CLIENT_SECRET",
                                     "client_secret: *hunter2 #tail"))  # fmt: skip
    code, err = validate(job, capsys)
    assert code == 2 and "client_secret: YAML reads a value starting with '*'" in err
    assert "hunter2" not in err and "#tail" not in err
