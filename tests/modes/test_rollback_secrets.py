"""`runbook rollback RUN_ID` reads the secrets its undos read, and no other: the undo
plan (`--dry-run`, and the question at a terminal) lists them as `runbook plan` lists a
run's, a secret not set is a placeholder in the plan, and a live rollback without one
shows the plan, then stops before any undo (exit 2)."""

from __future__ import annotations

import json

import pytest
from run_fixtures import (
    current_env,
    finish_terminal,
    lines,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
    spawn_terminal,
)

TOKEN = "undo-token-5b0d7e"  # read by the undo of `rotate`
KEY = "deploy-key-c41f9a"  # read by `rotate` alone
NOT_SET = "token: env UNDO_TOKEN — NOT SET (environment variable UNDO_TOKEN is not set)"


def rotated_run() -> str:
    """A run of undo-secret.yaml, both secrets set: `rotate` done, to be undone."""
    work = current_env().work
    secrets = {"UNDO_TOKEN": TOKEN, "DEPLOY_KEY": KEY}
    ran = runbook("run", playbook("undo-secret.yaml"), "-i", f"dir={work}", extra_env=secrets)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines(work / "rotated") == [KEY]
    return run_id_of(ran.stdout)


def plan_lines(run_id: str) -> list[str]:
    work = current_env().work
    return [
        f"undo plan of run {run_id} (run-undo-secret):",
        f"  1. rotate (succeeded): RUNBOOK_V1={work}",
        '       echo "$TOKEN" > "${RUNBOOK_V1}"/restored',
    ]


def test_the_preview_lists_the_secrets_the_undos_read_and_needs_none() -> None:
    run_id = rotated_run()

    shown = runbook("rollback", "--dry-run", run_id)
    as_json = runbook("rollback", "--dry-run", "--output", "json", run_id)
    with_token = runbook("rollback", "--dry-run", run_id, extra_env={"UNDO_TOKEN": TOKEN})

    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.splitlines() == [
        *plan_lines(run_id),
        "secrets a live rollback needs (1 not set: `runbook rollback` would refuse to start):",
        f"  {NOT_SET}",
    ]
    assert json.loads(as_json.stdout)["secrets"] == [
        {
            "name": "token",
            "source": "env UNDO_TOKEN",
            "problem": "environment variable UNDO_TOKEN is not set",
            "set": False,
        }
    ]
    assert with_token.stdout.splitlines()[-2:] == [
        "secrets a live rollback needs:",
        "  token: env UNDO_TOKEN — set",
    ]
    for preview in (shown, as_json, with_token):
        assert "deploy_key" not in preview.stdout  # no undo reads it
        assert TOKEN not in preview.stdout + preview.stderr
    assert [r["run_id"] for r in runs_json()] == [run_id]
    assert not (current_env().work / "restored").exists()


def test_a_live_rollback_needs_only_the_secrets_its_undos_read() -> None:
    run_id = rotated_run()

    rolled = runbook("rollback", "--yes", run_id, extra_env={"UNDO_TOKEN": TOKEN})

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert rolled.stdout.splitlines()[3:5] == [
        "secrets a live rollback needs:",
        "  token: env UNDO_TOKEN — set",
    ]
    assert lines(current_env().work / "restored") == [TOKEN]
    assert TOKEN not in rolled.stdout + rolled.stderr


@pytest.mark.parametrize("at_terminal", [True, False], ids=["terminal", "yes"])
def test_a_live_rollback_without_a_secret_its_undos_read_shows_the_plan_then_stops(
    at_terminal: bool,
) -> None:
    run_id = rotated_run()

    if at_terminal:
        child = spawn_terminal("rollback", run_id)
        code = finish_terminal(child)
        said = (child.before or "").replace("\r\n", "\n")
        out, err = said, said
    else:
        rolled = runbook("rollback", "--yes", run_id)
        code, out, err = rolled.returncode, rolled.stdout, rolled.stderr

    assert code == 2, out + err
    assert "\n".join([*plan_lines(run_id), ""]) in out
    assert NOT_SET in out
    assert f"the undos of run {run_id} read secrets that are not set:" in err
    assert "secret 'token': environment variable UNDO_TOKEN is not set" in err
    assert f"`runbook rollback --dry-run {run_id}` shows the plan" in err
    assert "undo these" not in out  # not asked: the answer could not be carried out
    assert "deploy_key" not in out + err
    assert "Traceback" not in out + err
    assert not (current_env().work / "restored").exists()
    assert [r["run_id"] for r in runs_json()] == [run_id]


def test_the_question_at_a_terminal_comes_after_the_secrets_the_undos_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = rotated_run()
    monkeypatch.setenv("UNDO_TOKEN", TOKEN)
    monkeypatch.delenv("DEPLOY_KEY", raising=False)

    child = spawn_terminal("rollback", run_id)
    child.expect("secrets a live rollback needs:")
    child.expect("token: env UNDO_TOKEN — set")
    child.expect(r"undo these 1 step\(s\) of run")
    child.sendline("y")

    assert finish_terminal(child) == 0
    assert lines(current_env().work / "restored") == [TOKEN]
