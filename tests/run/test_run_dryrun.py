"""Dry-run (`runbook run --dry-run`, `runbook plan`): every command and undo rendered
with its inputs and a verdict, and provably nothing executed or recorded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from run_fixtures import (
    current_env,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    runbook,
)

DRY_RUNS = [("run", "--dry-run"), ("plan",)]


def _nothing_happened(work: Path) -> None:
    assert sorted(p.name for p in work.iterdir()) == []
    ledger_runs = runbook("runs", "--output", "json")
    assert ledger_runs.returncode == 0, ledger_runs.stderr
    assert json.loads(ledger_runs.stdout) == []


@pytest.mark.parametrize("command", DRY_RUNS, ids=["run--dry-run", "plan"])
def test_text_plan_renders_every_command_and_undo_and_executes_nothing(
    command: tuple[str, ...],
) -> None:
    env = current_env()
    work = env.work

    shown = runbook(*command, playbook("dryrun.yaml"), "-i", f"dir={work}", "-i", "pod=api-2")

    assert shown.returncode == 0, shown.stdout + shown.stderr
    text = shown.stdout
    assert "nothing will be changed" in text
    expected_lines = [
        "1. inspect [shell] no-op",
        f"run:  RUNBOOK_V1={work}",
        'touch "${RUNBOOK_V1}"/inspect-ran; echo \'{"replicas": 3}\'',
        "undo: none needed (read-only)",
        "2. restart [shell] would change",
        f"run:  touch {work}/restart-api-2",
        f"undo: RUNBOOK_V1={work}",
        "RUNBOOK_V2=api-2",
        'touch "${RUNBOOK_V1}"/undo-restart-"${RUNBOOK_V2}"',
        "confirm: Restart the pod now?",
        "3. scale [shell] unknown",
        f"run:  RUNBOOK_V1={work}",
        "RUNBOOK_V2='<captures.state.replicas>'",
        'touch "${RUNBOOK_V1}"/scale-to-"${RUNBOOK_V2}"',
        f"undo: touch {work}/undo-scale-api-2",
        "`when` depends on captures.state.replicas, known only during the run",
        "4. prod_only [shell] no-op",
        f"run:  RUNBOOK_V1={work}",
        'touch "${RUNBOOK_V1}"/prod-only-ran',
        "undo: irreversible: the prod-only step cannot be undone",
        "skipped: `when` is false",
        "5. settle [wait] no-op",
        "run:  wait 2.0s (let it settle)",
        "6. tell_team [manual] would change",
        "run:  manual: Post in #incidents that api-2 was restarted",
    ]
    for expected in expected_lines:
        assert expected in text, f"{expected!r} not in\n{text}"
    _nothing_happened(work)


@pytest.mark.parametrize("command", DRY_RUNS, ids=["run--dry-run", "plan"])
def test_json_plan_has_every_step_with_command_undo_and_verdict(
    command: tuple[str, ...],
) -> None:
    env = current_env()
    work = env.work

    shown = runbook(*command, playbook("dryrun.yaml"), "-i", f"dir={work}", "--output", "json")

    assert shown.returncode == 0, shown.stdout + shown.stderr
    document: dict[str, Any] = json.loads(shown.stdout)
    assert (document["playbook"], document["version"], document["maturity"]) == (
        "run-dryrun",
        "1.0.0",
        2,
    )
    steps = {step["id"]: step for step in document["steps"]}
    assert list(steps) == ["inspect", "restart", "scale", "prod_only", "settle", "tell_team"]
    verdicts = {sid: step["verdict"] for sid, step in steps.items()}
    assert verdicts == {
        "inspect": "no-op",
        "restart": "would change",
        "scale": "unknown",
        "prod_only": "no-op",
        "settle": "no-op",
        "tell_team": "would change",
    }
    assert steps["restart"]["command"] == f"touch {work}/restart-web-7f9c"
    assert steps["restart"]["undo"] == (
        f"RUNBOOK_V1={work}\nRUNBOOK_V2=web-7f9c\n"
        'touch "${RUNBOOK_V1}"/undo-restart-"${RUNBOOK_V2}"'
    )
    assert steps["restart"]["confirm"] == "Restart the pod now?"
    assert steps["scale"]["undo"] == f"touch {work}/undo-scale-web-7f9c"
    assert steps["inspect"]["readonly"] is True
    assert steps["restart"]["readonly"] is False
    assert steps["prod_only"]["when"] == "inputs.pod == 'prod'"
    _nothing_happened(work)


def test_a_level_1_playbook_can_be_planned_without_a_terminal() -> None:
    work = current_env().work

    shown = runbook("run", "--dry-run", playbook("dryrun-level1.yaml"), "-i", f"dir={work}")

    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f'run:  RUNBOOK_V1={work}\n           touch "${{RUNBOOK_V1}}"/drain-ran' in shown.stdout
    assert (
        f'undo: RUNBOOK_V1={work}\n           touch "${{RUNBOOK_V1}}"/drain-undone' in shown.stdout
    )
    assert "(level 1)" in shown.stdout
    _nothing_happened(work)


def test_a_dry_run_with_bad_input_is_an_error_and_changes_nothing() -> None:
    work = current_env().work

    shown = runbook("plan", playbook("dryrun.yaml"), "-i", f"dir={work}", "-i", "pod=-rf")

    assert shown.returncode == 2
    assert "starts with '-'" in shown.stderr
    assert "Traceback" not in shown.stderr
    _nothing_happened(work)


def test_planning_with_an_inventory_leaves_the_process_environment_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The CLI hands `--inventory` on in the request; it sets no environment variable.
    from click.testing import CliRunner

    from engine.cli.app import cli

    work = current_env().work
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    before = dict(os.environ)

    args = ["plan", playbook("dryrun.yaml"), "-i", f"dir={work}", "--inventory", "hosts.yaml"]
    planned = CliRunner().invoke(cli, args)

    assert planned.exit_code == 0, planned.output
    assert dict(os.environ) == before


def test_a_when_comparing_a_capture_is_unknown_in_the_plan(tmp_path: Path) -> None:
    variant = tmp_path / "compare.yaml"
    variant.write_text(
        """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: run-dryrun-compare, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: info
    readonly: true
    shell: {run: "echo '{\\"n\\": 3}'", capture: info}
  - id: use
    when: "captures.info.n == 3"
    shell: {run: "echo yes"}
    irreversible: test
"""
    )

    shown = runbook("plan", str(variant), "--output", "json")

    assert shown.returncode == 0, shown.stdout + shown.stderr
    verdicts = {s["id"]: s["verdict"] for s in json.loads(shown.stdout)["steps"]}
    assert verdicts["use"] == "unknown"
