"""`when:`, `capture:` (JSON parsed, read by later steps), `expect:`, and the exit code
of every outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_fixtures import (
    current_env,
    events,
    lines,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
    steps_playbook,
)


def _write(tmp_path: Path, steps: str) -> str:
    return steps_playbook(tmp_path, "variant", steps)


def test_when_capture_and_expect_on_the_happy_path() -> None:
    work = current_env().work

    ran = runbook("run", playbook("flow.yaml"), "-i", f"dir={work}")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert not (work / "prod-only-ran").exists()  # `when` false: skipped
    assert lines(work / "used") == ["web-4-front"]  # JSON capture read by a later step
    assert (work / "after-skip-ran").exists()  # `steps.prod_only.status == 'skipped'`
    assert (work / "replicas-known").exists()
    run_id = run_id_of(ran.stdout)
    skipped = events(run_id, "step_skipped")
    assert [(e["step_id"], e["data"]["reason"]) for e in skipped] == [
        ("prod_only", "`when` is false")
    ]
    assert "prod_only" not in {e["step_id"] for e in events(run_id, "step_intent")}
    results = {e["step_id"]: e["data"] for e in events(run_id, "step_result")}
    assert results["info"]["value"] == {"replicas": 4, "name": "web", "labels": {"tier": "front"}}
    assert (results["codes"]["status"], results["codes"]["exit_code"]) == ("succeeded", 3)
    assert results["contains"]["status"] == "succeeded"
    assert results["matches"]["status"] == "succeeded"


def test_when_true_runs_the_step() -> None:
    work = current_env().work

    ran = runbook("run", playbook("flow.yaml"), "-i", f"dir={work}", "-i", "env=prod")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (work / "prod-only-ran").exists()
    assert not (work / "after-skip-ran").exists()


@pytest.mark.parametrize(
    ("expect", "command", "problem"),
    [
        ("{exit_code: [0, 3]}", "exit 4", "exit code 4, expected 0 or 3"),
        ("{stdout_contains: 'lo wo'}", "echo hello", "stdout does not contain 'lo wo'"),
        ("{stdout_matches: '^v[0-9]+$'}", "echo version 1", "stdout does not match '^v[0-9]+$'"),
        ("{exit_code: 0}", "echo ok; exit 1", "exit code 1, expected 0"),
    ],
    ids=["exit-code-list", "stdout-contains", "stdout-matches", "exit-code"],
)
def test_an_unmet_expectation_fails_the_step_and_rolls_back(
    tmp_path: Path, expect: str, command: str, problem: str
) -> None:
    work = current_env().work
    variant = _write(
        tmp_path,
        f"""\
        - id: change
          shell: {{run: "echo change >> {{{{ inputs.dir }}}}/done"}}
          undo: {{shell: {{run: "echo change >> {{{{ inputs.dir }}}}/undone"}}}}
        - id: judged
          readonly: true
          shell: {{run: "{command}", expect: {expect}}}
        - id: never
          shell: {{run: "echo never >> {{{{ inputs.dir }}}}/done"}}
          irreversible: test
        """,
    )

    ran = runbook("run", variant, "-i", f"dir={work}")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert lines(work / "done") == ["change"]
    assert lines(work / "undone") == ["change"]
    result = next(
        e for e in events(run_id_of(ran.stdout), "step_result") if e["step_id"] == "judged"
    )
    assert (result["data"]["status"], result["data"]["message"]) == ("failed", problem)


def test_a_capture_that_does_not_fit_a_later_template_fails_that_step_and_rolls_back(
    tmp_path: Path,
) -> None:
    """A capture only exists during the run: a missing key is a step failure (rolled
    back, exit 1), not a crash that leaves the run `running` and its changes in place."""
    work = current_env().work
    variant = _write(
        tmp_path,
        """\
        - id: info
          readonly: true
          shell: {run: "echo '{\\"replicas\\": 4}'", capture: info}
        - id: change
          shell: {run: "echo change >> {{ inputs.dir }}/done"}
          undo: {shell: {run: "echo change >> {{ inputs.dir }}/undone"}}
        - id: by_condition
          when: captures.info.missing_key
          shell: {run: "echo by_condition >> {{ inputs.dir }}/done"}
          irreversible: test
        """,
    )

    ran = runbook("run", variant, "-i", f"dir={work}")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    assert lines(work / "done") == ["change"]
    assert lines(work / "undone") == ["change"]
    run = runs_json()[0]
    assert run["status"] == "failed"
    assert "captures.info.missing_key" in run["summary"]["message"]


def test_a_capture_starting_with_a_dash_in_a_shell_string_fails_the_step(tmp_path: Path) -> None:
    work = current_env().work
    variant = _write(
        tmp_path,
        """\
        - id: change
          shell: {run: "echo change >> {{ inputs.dir }}/done"}
          undo: {shell: {run: "echo change >> {{ inputs.dir }}/undone"}}
        - id: info
          readonly: true
          shell: {run: "echo -rf", capture: flag}
        - id: use
          shell: {run: "echo rm {{ captures.flag }} >> {{ inputs.dir }}/done"}
          irreversible: test
        """,
    )

    ran = runbook("run", variant, "-i", f"dir={work}")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert lines(work / "done") == ["change"]
    assert lines(work / "undone") == ["change"]
    assert "starts with '-'" in runs_json()[0]["summary"]["message"]


def test_a_when_comparing_a_capture_runs(tmp_path: Path) -> None:
    work = current_env().work
    variant = _write(
        tmp_path,
        """\
        - id: info
          readonly: true
          shell: {run: "echo '{\\"replicas\\": 4}'", capture: info}
        - id: scale
          when: captures.info.replicas > 2
          shell: {run: "echo scale >> {{ inputs.dir }}/done"}
          irreversible: test
        """,
    )

    ran = runbook("run", variant, "-i", f"dir={work}")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines(work / "done") == ["scale"]


# -- exit codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "inputs", "exit_code", "outcome"),
    [
        ("all-good.yaml", [], 0, "completed"),
        ("rollback-order.yaml", [], 1, "failed"),
        ("rollback-order.yaml", ["undo_two_exit=5"], 4, "rollback_failed"),
        ("confirm.yaml", [], 5, "refused"),
        ("level1.yaml", [], 5, "refused"),
    ],
)
def test_each_outcome_has_its_exit_code(
    name: str, inputs: list[str], exit_code: int, outcome: str
) -> None:
    work = current_env().work
    options = [arg for value in [f"dir={work}", *inputs] for arg in ("-i", value)]

    ran = runbook("run", playbook(name), *options)

    assert ran.returncode == exit_code, ran.stdout + ran.stderr
    assert f"outcome: {outcome}" in ran.stdout
    assert [r["status"] for r in runs_json()] == [outcome]


@pytest.mark.parametrize(
    "args",
    [
        ["-i", "dir=relative/path"],  # does not match the input's pattern
        ["-i", "nope=1"],  # unknown input
        [],  # missing required input
        ["-i", "dir=/tmp", "-i", "undo_two_exit=many"],  # wrong type
    ],
    ids=["pattern", "unknown", "missing", "type"],
)
def test_bad_input_exits_2_before_anything_runs_or_is_recorded(args: list[str]) -> None:
    ran = runbook("run", playbook("rollback-order.yaml"), *args)

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    assert runs_json() == []


def test_an_invalid_playbook_exits_2_and_runs_nothing(tmp_path: Path) -> None:
    work = current_env().work
    broken = _write(
        tmp_path,
        """\
        - id: first
          shell: {run: "touch {{ inputs.dir }}/first-ran"}
          irreversible: test
        - id: second
          shell: {run: "echo {{ inputs.undeclared }}", unknown_key: 1}
          irreversible: test
        """,
    )

    ran = runbook("run", broken, "-i", f"dir={work}")

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "variant.yaml:" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert not (work / "first-ran").exists()
    assert runs_json() == []
