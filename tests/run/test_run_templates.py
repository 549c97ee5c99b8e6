"""Templates in a real run: the plan and the run agree on what can be known before step
1, a template over its budget is a clear error, and a signal is honoured within about a
second even while a template renders (RELIABILITY.md #14, #15)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from run_fixtures import (
    current_env,
    lines,
    run_env,  # noqa: F401  (autouse fixture)
    runbook,
    runs_json,
    start_engine,
    steps_playbook,
    wait_for,
)


def _write(tmp_path: Path, steps: str) -> str:
    return steps_playbook(tmp_path, "templates", steps)


# Values only the run knows, used with methods, filters and arithmetic.
COMPUTED = """\
- id: count
  readonly: true
  shell: {run: "echo ' 4 '", capture: num}
- id: use
  shell:
    run: "echo {{ steps.count.stdout.strip() }} $NEXT {{ captures.num | int * 2 }} >> {{ inputs.dir }}/done"
    env: {NEXT: "{{ captures.num | int + 1 }}"}
  irreversible: test
"""  # noqa: E501


def test_plan_shows_what_depends_on_the_run_and_the_run_computes_it(tmp_path: Path) -> None:
    work = current_env().work
    variant = _write(tmp_path, COMPUTED)

    planned = runbook("plan", variant, "-i", f"dir={work}")

    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "echo {{ steps.count.stdout.strip() }} $NEXT {{ captures.num | int * 2 }}" in (
        planned.stdout
    )
    assert "note: depends on steps.count.stdout, captures.num, known only during the run" in (
        planned.stdout
    )
    ran = runbook("run", variant, "-i", f"dir={work}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (work / "done").read_text() == "4 5 8\n"


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x'.center(10 ** 9) }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ],
)
def test_a_template_over_its_budget_is_refused_before_step_1_at_its_step(
    tmp_path: Path, template: str
) -> None:
    work = current_env().work
    variant = _write(
        tmp_path,
        f"""\
        - id: first
          shell: {{run: "echo first >> {{{{ inputs.dir }}}}/done"}}
          irreversible: test
        - id: hostile
          readonly: true
          shell: {{run: "echo {template}"}}
        """,
    )
    for command in ("plan", "run"):
        started = time.perf_counter()
        done = runbook(command, variant, "-i", f"dir={work}", timeout=30)

        assert done.returncode == 2, done.stdout + done.stderr
        assert time.perf_counter() - started < 10
        assert f"{variant}:12:12: step 'hostile': the template sandbox refused: " in done.stderr
        assert "Traceback" not in done.stderr
    assert not (work / "done").exists()


def test_a_template_over_its_budget_during_the_run_fails_its_step_and_rolls_back(
    tmp_path: Path,
) -> None:
    work = current_env().work
    variant = _write(
        tmp_path,
        """\
        - id: change
          shell: {run: "echo change >> {{ inputs.dir }}/done"}
          undo: {shell: {run: "echo change >> {{ inputs.dir }}/undone"}}
        - id: width
          readonly: true
          shell: {run: "echo 1000000000", capture: width}
        - id: pad
          readonly: true
          shell: {run: "echo {{ 'x'.center(captures.width | int) }}"}
        """,
    )

    ran = runbook("run", variant, "-i", f"dir={work}", timeout=30)

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert lines(work / "undone") == ["change"]
    message = runs_json()[0]["summary"]["message"]
    assert "step pad failed: could not render: the template sandbox refused: the padded" in message


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_slow_template_is_honoured_within_about_a_second(
    tmp_path: Path, signum: signal.Signals
) -> None:
    work = current_env().work
    loop = "range(captures.num | int)"
    variant = _write(
        tmp_path,
        f"""\
        - id: change
          shell: {{run: "echo change >> {{{{ inputs.dir }}}}/done; echo 100000", capture: num}}
          undo: {{shell: {{run: "echo change >> {{{{ inputs.dir }}}}/undone"}}}}
        - id: slow
          readonly: true
          shell: {{run: "echo {{% for i in {loop} %}}{{% for j in {loop} %}}{{% endfor %}}{{% endfor %}}"}}
        """,  # noqa: E501
    )
    engine = start_engine("run", variant, "-i", f"dir={work}")
    wait_for(lambda: (work / "done").exists(), what="the first step")
    time.sleep(0.1)  # the second step's template is rendering now

    engine.send_signal(signum)
    signalled = time.perf_counter()
    output, _ = engine.communicate(timeout=30)

    assert time.perf_counter() - signalled < 1.5, output  # the budget: 1 s from the start
    assert engine.returncode == 130, output
    assert lines(work / "undone") == ["change"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("steps.look.bogus", "undefined variable 'steps.look.bogus'"),
        ("steps.look.stdout.bogus", "undefined variable 'steps.look.stdout.bogus'"),
        ("steps.look.stdout['key']", "undefined variable 'steps.look.stdout.key'"),
        ("steps.look.stdout.nosuch()", "'str object' has no attribute 'nosuch'"),
        ("steps.look.exit_code.upper()", "'int object' has no attribute 'upper'"),
    ],
)
def test_what_no_step_result_has_is_refused_by_the_plan_as_by_the_run(
    tmp_path: Path, template: str, message: str
) -> None:
    """A step's result always has status, exit_code, stdout (text) and value: reading
    anything else fails the same way before step 1 as it would during the run."""
    work = current_env().work
    variant = _write(
        tmp_path,
        f"""\
        - id: look
          shell: {{run: "echo look >> {{{{ inputs.dir }}}}/done"}}
          irreversible: test
        - id: use
          readonly: true
          shell: {{run: "echo {{{{ {template} }}}}"}}
        """,
    )
    for command in ("plan", "run"):
        done = runbook(command, variant, "-i", f"dir={work}")

        assert done.returncode == 2, done.stdout + done.stderr
        assert f"{variant}:12:12: step 'use': " in done.stderr
        assert message in done.stderr
        assert "engine." not in done.stderr
    assert not (work / "done").exists()


def test_a_broken_template_in_an_undo_is_placed_at_the_undo(tmp_path: Path) -> None:
    work = current_env().work
    variant = _write(
        tmp_path,
        """\
        - id: change
          shell: {run: "echo change >> {{ inputs.dir }}/done"}
          undo:
            shell: {run: "echo {{ '%0999999999d' % 1 }}"}
        """,
    )

    planned = runbook("plan", variant, "-i", f"dir={work}")

    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f"{variant}:10:14: step 'change': the template sandbox refused: " in planned.stderr
