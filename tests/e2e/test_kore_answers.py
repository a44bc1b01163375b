"""Every Kore.ai answer read for what it means (issue 10), end to end against the sandbox.

Each test is one of the misreadings the issue lists: run the real CLI against
the loopback sandbox answering the way the platform, a proxy or a careless
server does, and check what reached the server, the audit log and the exit code.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from bulkops.sandbox import SandboxThread
from tests.e2e.harness import BOTH_DIALECTS, KORE_DIALECT, bulkops, bulkops_process, write_job


@KORE_DIALECT
def test_a_2xx_that_is_no_success_is_failed_and_retried_by_the_next_run(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=4)
    faults = {ids[0]: "html", ids[1]: "truncated", ids[2]: "failure_body"}
    sandbox.configure(scripted={cid: [fault] for cid, fault in faults.items()})
    job = write_job(tmp_path, sandbox, ids)
    first = bulkops("run", job, "--yes", cwd=tmp_path)
    assert first.code == 1, first.stderr
    outcomes = first.outcomes()
    assert outcomes == {**dict.fromkeys(faults, "failed"), ids[3]: "deleted"}
    lines = {r["campaign_id"]: r for r in first.campaigns()}
    assert "not JSON" in lines[ids[0]]["error"] and "Sign in" in lines[ids[0]]["error"]
    assert "not JSON" in lines[ids[1]]["error"]
    assert "'failure'" in lines[ids[2]]["error"]
    assert lines[ids[2]]["message"] == "Campaign could not be deleted"
    assert all(lines[c]["http_status"] == 200 and lines[c]["attempts"] == 1 for c in faults)

    again = bulkops("run", job, "--yes", cwd=tmp_path)  # the failed ones are not skipped
    assert again.code == 0, again.stderr
    run_id = again.finished()["run_id"]
    retried = {r["campaign_id"]: r["outcome"] for r in again.campaigns() if r["run_id"] == run_id}
    assert retried == dict.fromkeys(faults, "deleted")
    stats = sandbox.stats_snapshot()
    assert sorted(stats["deleted_ids"]) == sorted(ids)
    assert all(stats["campaigns"][c]["delete_requests"] == 2 for c in faults)


def test_a_404_html_page_aborts_instead_of_recording_not_found(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = [f"cd-{i}" for i in range(20)]
    sandbox.configure(fail_always=dict.fromkeys(ids, "html_404"))
    result = bulkops("run", write_job(tmp_path, sandbox, ids), "--yes", cwd=tmp_path)
    assert result.code == 3, result.stderr
    counts = result.finished()["counts"]
    assert counts["not_found"] == 0 and counts["pending"] == 19 and counts["failed"] == 1
    assert "HTTP 404" in result.stderr and f"check target.host ({sandbox.url})" in result.stderr
    assert sandbox.stats_snapshot()["total_requests"] == 1


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_is_never_followed_and_aborts(
    tmp_path: Path, sandbox: SandboxThread, status: int
) -> None:
    ids = sandbox.add_campaigns(count=6)
    sandbox.configure(scripted={ids[0]: ["redirect"]}, redirect_status=status)
    result = bulkops(
        "run", write_job(tmp_path, sandbox, ids, run={"concurrency": 1}), "--yes", cwd=tmp_path
    )
    assert result.code == 3, result.stderr
    stats = sandbox.stats_snapshot()
    assert stats["redirects_followed"] == 0  # the token and the DELETE went nowhere else
    assert ids[0] not in stats["deleted_ids"]
    assert result.outcomes()[ids[0]] == "failed"
    assert f"HTTP {status}: redirected to {sandbox.url}/_sandbox/redirected" in result.stderr
    assert "never followed" in result.stderr and "target.host" in result.stderr


@KORE_DIALECT
def test_kore_errors_shape_is_read_and_a_400_not_found_is_not_found(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=2)
    sandbox.configure(scripted={ids[0]: [409]})
    result = bulkops("run", write_job(tmp_path, sandbox, [*ids, "cd-gone"]), "--yes", cwd=tmp_path)
    assert result.code == 1, result.stderr
    lines = {r["campaign_id"]: r for r in result.campaigns()}
    gone = lines["cd-gone"]
    assert (gone["outcome"], gone["http_status"], gone["message"]) == (
        "not_found", 400, "Campaign not found"
    )  # fmt: skip
    assert lines[ids[0]]["outcome"] == "failed" and lines[ids[0]]["message"] == "Error 409"
    assert lines[ids[1]]["outcome"] == "deleted"
    again = bulkops("run", write_job(tmp_path, sandbox, ["cd-gone"]), "--yes", cwd=tmp_path)
    assert again.code == 0 and "skipping 1 campaign already done" in again.stderr


@KORE_DIALECT
@pytest.mark.parametrize("status", [400, 200])
def test_a_rate_limit_wording_without_429_waits_a_window_and_retries(
    tmp_path: Path, sandbox: SandboxThread, status: int
) -> None:
    ids = sandbox.add_campaigns(count=3)
    sandbox.configure(scripted={ids[0]: ["rate_limit"]}, rate_limit_status=status)
    job = write_job(tmp_path, sandbox, ids, run={"rate": ["50/0.4s"], "concurrency": 1})
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    record = next(r for r in result.campaigns() if r["campaign_id"] == ids[0])
    assert record["outcome"] == "deleted" and record["attempts"] == 2
    assert record["duration_ms"] >= 400  # one full window of the tightest spec: no Retry-After
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(ids)


@KORE_DIALECT
def test_the_job_answers_section_adds_wordings(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=2)
    sandbox.configure(
        scripted={ids[0]: ["rate_limit"]}, rate_limit_status=400,
        rate_limit_message="Slow down, please", not_found_message="No such campaign here",
    )  # fmt: skip
    answers = {"not_found": ["*no such campaign*"], "rate_limited": ["*SLOW DOWN*"]}
    job = write_job(
        tmp_path, sandbox, [*ids, "cd-gone"], answers=answers, run={"rate": ["50/0.2s"]}
    )
    result = bulkops("run", job, "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.outcomes() == {ids[0]: "deleted", ids[1]: "deleted", "cd-gone": "not_found"}
    assert next(r for r in result.campaigns() if r["campaign_id"] == ids[0])["attempts"] == 2


@BOTH_DIALECTS
def test_echoed_tokens_are_redacted_and_huge_messages_cut_everywhere(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = sandbox.add_campaigns(count=3)
    sandbox.configure(
        echo_token=True, pad_messages=900_000, rate_limit_status=400,
        scripted={ids[0]: [409], ids[1]: ["rate_limit"]},
    )  # fmt: skip
    job = write_job(tmp_path, sandbox, [*ids, "cd-gone"], run={"rate": ["50/0.2s"]})
    summary = tmp_path / "summary.json"
    result = bulkops("run", job, "--yes", "--summary-json", summary, cwd=tmp_path)
    assert result.code == 1, result.stderr
    report = bulkops("report", tmp_path / "audit.jsonl", cwd=tmp_path)
    failed = bulkops("report", tmp_path / "audit.jsonl", "--format", "json", cwd=tmp_path)
    audit = (tmp_path / "audit.jsonl").read_text()
    for text in (result.stdout, result.stderr, audit, summary.read_text(), report.stdout,
                 report.stderr, failed.stdout):  # fmt: skip
        assert "eyJ" not in text
    assert result.outcomes() == {
        ids[0]: "failed", ids[1]: "deleted", ids[2]: "deleted", "cd-gone": "not_found"
    }  # fmt: skip
    assert max(len(line) for line in audit.splitlines()) < 5_000
    for line in result.campaigns():
        if line["outcome"] in ("failed", "not_found"):
            assert "(request auth: [redacted])" in line["message"]
            assert len(line["message"]) <= 500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_host_where_nothing_listens_aborts_after_a_few_tries(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    ids = [f"cd-{i}" for i in range(200)]
    target = {"host": f"http://127.0.0.1:{_free_port()}", "app_id": "st-sandbox-app",
              "account_id": "acc-sandbox"}  # fmt: skip
    job = write_job(tmp_path, sandbox, ids, target=target)
    summary = tmp_path / "summary.json"
    result = bulkops("run", job, "--yes", "--summary-json", summary, cwd=tmp_path)
    assert result.code == 3, result.stderr
    assert "connection refused" in result.stderr and "check target.host" in result.stderr
    counts = result.finished()["counts"]
    assert counts["pending"] == 200 and counts["failed"] == 0 and result.campaigns() == []
    assert json.loads(summary.read_text())["requests"] == 3


def test_https_to_a_plain_port_aborts_naming_tls(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=30)
    target = {"host": sandbox.url.replace("http://", "https://"), "app_id": "st-sandbox-app",
              "account_id": "acc-sandbox"}  # fmt: skip
    result = bulkops("run", write_job(tmp_path, sandbox, ids, target=target), "--yes", cwd=tmp_path)
    assert result.code == 3, result.stderr
    assert "TLS failed" in result.stderr and "target.host" in result.stderr
    assert result.finished()["counts"]["pending"] == 30
    assert sandbox.stats_snapshot()["total_requests"] == 0


@KORE_DIALECT
def test_v2_paths_and_sms_campaigns(tmp_path: Path, sandbox: SandboxThread) -> None:
    with SandboxThread(campaigns=0, seed=3, campaign_type="sms", id_field="id",
                       dialect=sandbox.config.dialect) as sms:  # fmt: skip
        ids = sms.add_campaigns([{"_id": f"cd-sms-{i}", "status": "Stopped"} for i in range(5)])
        target = {"host": sms.url, "app_id": "st-sandbox-app", "account_id": "acc-sandbox",
                  "campaign_type": "sms", "api": "v2"}  # fmt: skip
        job = write_job(tmp_path, sms, target=target, select={"status": ["Stopped"]})
        preview = bulkops("run", job, "--dry-run", cwd=tmp_path)
        assert preview.code == 0, preview.stderr
        assert "5 campaigns would be deleted" in preview.stdout
        job = write_job(tmp_path, sms, [*ids, "cd-gone"], target=target)
        by_id = bulkops("run", job, "--dry-run", cwd=tmp_path)  # list pages or GETs, the fewer
        assert by_id.code == 0, by_id.stderr
        assert "5 campaigns would be deleted" in by_id.stdout and "cd-gone" in by_id.stdout
        result = bulkops("run", job, "--yes", cwd=tmp_path)
        assert result.code == 0, result.stderr
        assert result.outcomes() == {**dict.fromkeys(ids, "deleted"), "cd-gone": "not_found"}
        stats = sms.stats_snapshot()
        assert sorted(stats["deleted_ids"]) == sorted(ids)
        assert stats["by_api"] == {"v2": stats["total_requests"]}
        assert stats["list_calls"][0]["type"] == "sms"


def test_the_proxy_from_the_environment_is_used(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=3)
    # nothing listens there: only the proxy (the sandbox) can answer
    target = {"host": f"http://127.0.0.2:{_free_port()}", "app_id": "st-sandbox-app",
              "account_id": "acc-sandbox"}  # fmt: skip
    job = write_job(tmp_path, sandbox, ids, target=target)
    result = bulkops(
        "run", job, "--yes", cwd=tmp_path, HTTP_PROXY=sandbox.url, NO_PROXY="", no_proxy=""
    )
    assert result.code == 0, result.stderr
    assert sorted(sandbox.stats_snapshot()["deleted_ids"]) == sorted(ids)


@BOTH_DIALECTS
def test_aborts_name_the_field_to_check(tmp_path: Path, sandbox: SandboxThread) -> None:
    ids = sandbox.add_campaigns(count=5)
    target = {"host": sandbox.url, "app_id": "st-wrong-app", "account_id": "acc-sandbox"}
    job = write_job(tmp_path, sandbox, ids, target=target, run={"concurrency": 1})
    wrong_app = bulkops("run", job, "--yes", cwd=tmp_path)
    assert wrong_app.code == 3, wrong_app.stderr
    assert "check target.app_id (st-wrong-app)" in wrong_app.stderr
    assert wrong_app.finished()["counts"]["pending"] == 4

    wrong = "a-wrong-secret-that-is-long-enough-0123456789"
    job = write_job(tmp_path, sandbox, ids, run={"concurrency": 1})
    refused = bulkops("run", job, "--yes", cwd=tmp_path, KOREAI_CLIENT_SECRET=wrong)
    assert refused.code == 3, refused.stderr
    assert "HTTP 401" in refused.stderr
    assert (
        "check the client secret from environment variable KOREAI_CLIENT_SECRET" in refused.stderr
    )
    assert sandbox.stats_snapshot()["deleted_ids"] == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_a_self_signed_certificate_aborts_until_ssl_cert_file_trusts_it(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    with SandboxThread(campaigns=0, tls_cert=str(cert), tls_key=str(key)) as tls:
        ids = tls.add_campaigns(count=20)
        job = write_job(tmp_path, tls, ids)
        untrusted = bulkops_process("run", job, "--yes", cwd=tmp_path)
        assert untrusted.code == 3, untrusted.stderr
        assert "TLS certificate not accepted" in untrusted.stderr
        assert "SSL_CERT_FILE" in untrusted.stderr and "target.host" in untrusted.stderr
        assert untrusted.finished()["counts"]["pending"] == 20
        assert tls.stats_snapshot()["total_requests"] == 0

        trusted = bulkops_process("run", job, "--yes", cwd=tmp_path, SSL_CERT_FILE=str(cert))
        assert trusted.code == 0, trusted.stderr
        assert sorted(tls.stats_snapshot()["deleted_ids"]) == sorted(ids)


RAW = ("\x1b", "\x07", "\u202e", "\x9b", "\x85")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_control_and_bidi_characters_of_an_abort_message_never_reach_the_terminal_raw(
    tmp_path: Path, sandbox: SandboxThread, log_format: str
) -> None:
    ids = sandbox.add_campaigns(count=2)
    message = "denied\x1b[2J\x07 by \u202epolicy\x9b1m\x85"
    sandbox.configure(auth_status=401, auth_message=message)
    job = write_job(tmp_path, sandbox, ids)
    result = bulkops("run", job, "--yes", "--log-format", log_format, cwd=tmp_path)
    assert result.code == 3, result.stderr
    said = result.stderr
    if log_format == "json":
        said = "\n".join(json.loads(line)["message"] for line in said.splitlines())
    assert "denied\\x1b[2J\\x07 by \\u202epolicy" in said
    for char in RAW:
        assert char not in result.stderr and char not in result.stdout
    listed = bulkops("list", job, cwd=tmp_path)
    assert listed.code == 3 and "\\u202epolicy" in listed.stderr
    assert not any(char in listed.stderr + listed.stdout for char in RAW)
