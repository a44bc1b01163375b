"""The scheduling recipes under deploy/ agree with docs/scheduling.md and with each other.

Each recipe must run the one command line the docs show, with --yes, take the
secret from outside the file, and keep two runs from overlapping.
"""

from __future__ import annotations

import configparser
import math
import re
import shlex
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "scheduling.md"
DEPLOY = ROOT / "deploy"
JOB = ROOT / "jobs" / "nightly-cleanup.yaml"
CRON = DEPLOY / "cron" / "bulkops-nightly"
SERVICE = DEPLOY / "systemd" / "bulkops-nightly.service"
TIMER = DEPLOY / "systemd" / "bulkops-nightly.timer"
CRONJOB = DEPLOY / "kubernetes" / "cronjob.yaml"
PVC = DEPLOY / "kubernetes" / "pvc.yaml"
SECRET = DEPLOY / "kubernetes" / "secret.example.yaml"
ENV_EXAMPLE = DEPLOY / "bulkops.env.example"
EXECUTABLE = "/usr/local/bin/bulkops"  # the one absolute path the recipes agree on
SECRET_VARS = ("KOREAI_CLIENT_ID", "KOREAI_CLIENT_SECRET")
PLACEHOLDERS = {"", "...", "REPLACE_ME", "<secret>"}


# --- reading the recipes


def canonical_command() -> list[str]:
    """The command line in the docs' first fenced block that starts with `bulkops run`."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", DOCS.read_text(encoding="utf-8"), re.M | re.S)
    for block in blocks:
        if block.startswith("bulkops run "):
            assert block.count("\n") == 1, "the canonical command is a block of one line"
            return shlex.split(block)
    raise AssertionError("docs/scheduling.md has no fenced block with the bulkops command line")


def cron_entries() -> list[tuple[list[str], str, str]]:
    """(five time fields, user, command) for each job line of the cron.d file."""
    entries = []
    for line in CRON.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.match(r"^[A-Z_]+=", line):  # SHELL=, PATH=, MAILTO=
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, line
        entries.append((fields[:5], fields[5], fields[6]))
    return entries


def shell_commands(command: str) -> list[list[str]]:
    """The simple commands of a `a; b; exec c >>log 2>&1` line, redirections cut off."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    redirecting = False
    for token in lexer:
        if token in (";", "&&"):
            commands.append([])
            redirecting = False
        elif redirecting or set(token) <= set("<>&|"):
            assert token not in ("|", "||", "&"), f"unexpected {token!r} in the cron command"
            redirecting = True
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def cron_command() -> list[str]:
    [(_, _, command)] = cron_entries()
    execs = [c for c in shell_commands(command) if c[0] == "exec"]
    assert len(execs) == 1, "the cron line ends by exec-ing bulkops"
    return execs[0][1:]


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def cronjob() -> dict[str, Any]:
    [doc] = [d for d in documents(CRONJOB) if d["kind"] == "CronJob"]
    return doc


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    [only] = pod_spec()["containers"]
    return dict(only)


def kubernetes_command() -> list[str]:
    c = container()
    return [*c.get("command", []), *c.get("args", [])]


def recipe_commands() -> dict[str, list[str]]:
    return {
        "cron": cron_command(),
        "systemd": shlex.split(unit(SERVICE)["Service"]["ExecStart"]),
        "kubernetes": kubernetes_command(),
    }


def job_file() -> dict[str, Any]:
    doc = yaml.safe_load(JOB.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def section(title: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/scheduling.md has no '## {title}' section"
    return " ".join(match.group(1).split())


# --- one command line everywhere


def test_the_docs_show_the_canonical_command() -> None:
    command = canonical_command()
    assert command[:3] == ["bulkops", "run", "/etc/bulkops/nightly-cleanup.yaml"]
    assert "--yes" in command
    assert "--dry-run" not in command
    flags = dict(zip(command[3:], command[4:], strict=False))
    assert flags["--log-format"] == "json"
    assert flags["--summary-json"] == "/var/lib/bulkops/nightly-cleanup.summary.json"
    assert flags["--metrics-file"].endswith(".prom")


@pytest.mark.parametrize("recipe", ["cron", "systemd", "kubernetes"])
def test_each_recipe_runs_the_canonical_command(recipe: str) -> None:
    command = recipe_commands()[recipe]
    canonical = canonical_command()
    assert PurePosixPath(command[0]).name == "bulkops"
    assert command[1:] == canonical[1:]
    assert "--yes" in command


def test_the_recipes_agree_on_the_executable() -> None:
    assert {c[0] for c in recipe_commands().values()} == {EXECUTABLE}


def test_the_job_file_path_is_where_the_recipes_install_it() -> None:
    job_path = canonical_command()[2]
    assert PurePosixPath(job_path).name == JOB.name
    mounts = {m["mountPath"]: m for m in container()["volumeMounts"]}
    assert str(PurePosixPath(job_path).parent) in mounts
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    assert "configMap" in volumes[mounts[str(PurePosixPath(job_path).parent)]["name"]]


# --- secrets stay outside


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _random_looking(text: str) -> list[str]:
    words = re.findall(r"[A-Za-z0-9+/_-]{24,}", text)
    return [
        w for w in words
        if re.search(r"\d", w) and re.search(r"[A-Za-z]", w) and _entropy(w) >= 3.5
    ]  # fmt: skip


def recipe_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file()) + [DOCS]


@pytest.mark.parametrize("path", recipe_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_secret_is_written_inline(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for var in SECRET_VARS:
        for value in re.findall(rf"{var}[ \t]*=[ \t]*(\S*)", text):
            value = value.strip("'\"")
            placeholder = value in PLACEHOLDERS or value.endswith("...")
            assert placeholder, f"{var} has a value in {path.name}"
    assert _random_looking(text) == []


def test_the_env_file_example_has_the_names_and_no_values() -> None:
    values = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert values == dict.fromkeys(SECRET_VARS, "")


def test_cron_loads_the_env_file_before_bulkops() -> None:
    [(_, _, command)] = cron_entries()
    commands = shell_commands(command)
    assert commands[0] == ["set", "-a"]
    assert [".", "/etc/bulkops/bulkops.env"] in commands
    assert commands.index([".", "/etc/bulkops/bulkops.env"]) < len(commands) - 1
    assert commands[-1][0] == "exec"


def test_systemd_takes_the_secret_from_the_environment_file() -> None:
    service = unit(SERVICE)["Service"]
    assert service["EnvironmentFile"] == "/etc/bulkops/bulkops.env"
    # nothing secret inline: only where the account's rate budget is kept
    assert service.get("Environment") == "XDG_STATE_HOME=/var/lib"
    assert service["StateDirectory"] == "bulkops"  # /var/lib/bulkops: writable despite ProtectHome


def test_the_cronjob_keeps_the_rate_budget_on_its_volume() -> None:
    env = {e["name"]: e.get("value") for e in container()["env"]}
    mounts = {m["mountPath"]: m for m in container()["volumeMounts"]}
    budget_dir = f"{env['XDG_STATE_HOME']}/bulkops"
    assert budget_dir in mounts and not mounts[budget_dir].get("readOnly")


def test_the_cronjob_takes_the_secret_from_a_secret() -> None:
    env = {e["name"]: e for e in container()["env"]}
    secret_name = documents(SECRET)[0]["metadata"]["name"]
    for var in SECRET_VARS:
        assert "value" not in env[var], f"{var} is inline"
        ref = env[var]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == (secret_name, var)


def test_the_secret_example_holds_placeholders_only() -> None:
    [secret] = documents(SECRET)
    assert secret["kind"] == "Secret"
    assert set(secret["stringData"]) == set(SECRET_VARS)
    assert set(secret["stringData"].values()) <= PLACEHOLDERS
    assert "data" not in secret


# --- no overlapping runs


def test_the_cronjob_forbids_concurrent_runs() -> None:
    spec = cronjob()["spec"]
    assert cronjob()["apiVersion"] == "batch/v1"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] >= 3600
    assert pod_spec()["restartPolicy"] == "Never"


def test_systemd_runs_one_oneshot_at_a_time() -> None:
    service = unit(SERVICE)["Service"]
    assert service["Type"] == "oneshot"
    assert "SuccessExitStatus" not in service  # exit 1 must stay a failure monitoring sees
    timer = unit(TIMER)["Timer"]
    assert timer["OnCalendar"] == "*-*-* 02:30:00"
    assert timer["Persistent"] == "true"
    assert timer.get("RandomizedDelaySec")
    assert timer.get("Unit", SERVICE.name) == SERVICE.name
    docs = section("systemd timer")
    assert "never starts a second instance" in docs


def test_systemd_is_hardened_and_can_write_its_paths() -> None:
    service = unit(SERVICE)["Service"]
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "bulkops"  # /var/lib/bulkops
    writable = ["/var/lib/bulkops", *service["ReadWritePaths"].split()]
    command = canonical_command()
    outputs = [command[command.index(flag) + 1] for flag in ("--summary-json", "--metrics-file")]
    outputs.append(job_file()["audit_log"])
    for output in outputs:
        assert any(PurePosixPath(output).is_relative_to(w) for w in writable), output


def test_the_cron_recipe_relies_on_the_bulkops_lock() -> None:
    [(when, user, _)] = cron_entries()
    assert when == ["30", "2", "*", "*", "*"]
    assert user == "bulkops"
    docs = section("cron")
    assert "relies on bulkops' own lock" in docs
    assert "exits 2" in docs and "sends nothing" in docs
    assert "lock" in CRON.read_text(encoding="utf-8")


# --- resume needs the audit log to persist


def test_the_cronjob_keeps_the_audit_log_on_a_pvc() -> None:
    [claim] = documents(PVC)
    assert claim["kind"] == "PersistentVolumeClaim"
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    audit_dir = PurePosixPath(job_file()["audit_log"]).parent
    mounts = [
        m for m in container()["volumeMounts"]
        if "subPath" not in m and audit_dir.is_relative_to(m["mountPath"])
    ]  # fmt: skip
    assert mounts, "nothing is mounted over the audit log's directory"
    deepest = max(mounts, key=lambda m: len(m["mountPath"]))
    assert deepest["mountPath"] == "/var/lib/bulkops"
    assert not deepest.get("readOnly")
    volume = volumes[deepest["name"]]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


# --- the job the recipes run


def test_the_nightly_job_has_the_fields_asked_for() -> None:
    job = job_file()
    assert job["version"] == 1
    assert job["name"] == "nightly-cleanup"
    assert job["target"]["host"] == "https://platform.kore.ai"
    assert job["select"]["status"] == ["Stopped", "Completed"]
    assert job["select"]["name"] == "Test*"
    assert job["select"]["created_before"] == "30d"
    assert job["run"]["rate"] == ["60/min", "1800/hour"]
    assert job["run"]["max_deletes"] == 500
    assert job["run"]["halt_after_failures"] == 20
    assert 1 <= len(job["exclude"]) <= 2
    assert job["auth"] == {
        "client_id_env": "KOREAI_CLIENT_ID",
        "client_secret_env": "KOREAI_CLIENT_SECRET",
    }
    assert job["audit_log"] == "/var/lib/bulkops/audit/nightly-cleanup.jsonl"
    assert "campaigns" not in job and "campaigns_file" not in job


def test_the_nightly_job_loads() -> None:
    from bulkops.job import load_job

    environ = {"KOREAI_CLIENT_ID": "cs-x", "KOREAI_CLIENT_SECRET": "s" * 40}
    job = load_job(JOB, environ=environ)
    assert job.name == "nightly-cleanup"
    assert job.run.max_deletes == 500
