"""Previews never need production secrets: `plan` and `run --dry-run` show a secret that
is not set as a placeholder (one that is set stays redacted), list the secrets a live
run will need and which are missing, and exit 0; a live run still refuses before step 1,
and `plan --probe`, which runs commands, refuses and names the missing secrets."""

from __future__ import annotations

import json

import pytest
from run_fixtures import (
    current_env,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
)

DRY_RUNS = [("run", "--dry-run"), ("plan",)]
TOKEN = "Preview-token-5f1c2a9e"


@pytest.mark.parametrize("command", DRY_RUNS, ids=["run--dry-run", "plan"])
def test_a_preview_shows_a_placeholder_for_a_secret_not_set_and_lists_it(
    command: tuple[str, ...],
) -> None:
    env = current_env()

    shown = runbook(*command, playbook("preview-secrets.yaml"), "-i", f"dir={env.work}")

    assert shown.returncode == 0, shown.stdout + shown.stderr
    text = shown.stdout
    assert "confirm: Rotate «secret:token (not set)» and «secret:key (not set)»?" in text
    assert "secrets a live run needs (2 not set: `runbook run` would refuse to start):" in text
    assert "  token: env PREVIEW_TOKEN — NOT SET (environment variable PREVIEW_TOKEN" in text
    assert "  key: file ./preview-key.absent — NOT SET (cannot read file" in text
    assert list(env.work.iterdir()) == []


@pytest.mark.parametrize("command", DRY_RUNS, ids=["run--dry-run", "plan"])
def test_a_preview_redacts_a_secret_that_is_set_and_lists_it_as_set_in_json(
    command: tuple[str, ...],
) -> None:
    env = current_env()

    shown = runbook(
        *command,
        playbook("preview-secrets.yaml"),
        "-i",
        f"dir={env.work}",
        "--output",
        "json",
        extra_env={"PREVIEW_TOKEN": TOKEN},
    )

    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert TOKEN not in shown.stdout + shown.stderr
    document = json.loads(shown.stdout)
    secrets = {s["name"]: s for s in document["secrets"]}
    assert secrets["token"] == {
        "name": "token",
        "source": "env PREVIEW_TOKEN",
        "problem": "",
        "set": True,
    }
    assert secrets["key"]["set"] is False
    assert secrets["key"]["source"] == "file ./preview-key.absent"
    assert "cannot read file" in secrets["key"]["problem"]
    confirm = document["steps"][0]["confirm"]
    assert confirm == "Rotate «redacted:token» and «secret:key (not set)»?"


def test_a_live_run_without_the_secrets_still_refuses_before_step_1() -> None:
    env = current_env()

    ran = runbook("run", playbook("preview-secrets.yaml"), "-i", f"dir={env.work}", "--yes")

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "secret 'token': environment variable PREVIEW_TOKEN is not set" in ran.stderr
    assert "secret 'key': cannot read file" in ran.stderr
    assert "«secret:" not in ran.stdout + ran.stderr
    assert list(env.work.iterdir()) == []
    runs = runbook("runs", "--output", "json")
    assert json.loads(runs.stdout) == []


def test_plan_probe_refuses_and_names_the_missing_secrets() -> None:
    env = current_env()

    probed = runbook(
        "plan",
        "--probe",
        playbook("preview-secrets.yaml"),
        "-i",
        f"dir={env.work}",
        extra_env={"PREVIEW_TOKEN": TOKEN},
    )

    assert probed.returncode == 2, probed.stdout + probed.stderr
    assert "--probe runs the SLI probe and the read-only steps" in probed.stderr
    assert "secret 'key': cannot read file" in probed.stderr
    assert "secret 'token'" not in probed.stderr  # it is set
    assert "leave out --probe" in probed.stderr
    assert "Traceback" not in probed.stderr
    assert list(env.work.iterdir()) == []


def test_a_rollback_preview_needs_no_secret_and_the_rollback_itself_does() -> None:
    env = current_env()
    args = ("-i", f"dir={env.work}", "-i", "mode=ok")
    ran = runbook("run", playbook("secret.yaml"), *args, extra_env={"CANARY_TOKEN": TOKEN})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)

    previewed = runbook("rollback", "--dry-run", run_id)
    rolled = runbook("rollback", "--yes", run_id)

    assert previewed.returncode == 0, previewed.stdout + previewed.stderr
    assert f"undo plan of run {run_id} (run-secret):" in previewed.stdout
    assert "  1. reach (succeeded):" in previewed.stdout
    assert rolled.returncode == 2, rolled.stdout + rolled.stderr
    assert "CANARY_TOKEN is not set" in rolled.stderr
    assert not (env.work / "undo-saw").exists()
    assert [run["run_id"] for run in runs_json()] == [run_id]
