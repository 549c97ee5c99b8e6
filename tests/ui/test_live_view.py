"""The live view at a real pseudo-terminal: a failed step shows its output, retries and
undos are told as they happen, a table taller than the screen keeps the running step on
it, the title counts steps and time; plain lines put an undo's line before its output
and announce a rollback only when there is something to undo."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from run_fixtures import (
    current_env,
    finish_terminal,
    run_env,  # noqa: F401  (autouse fixture)
    runbook,
    spawn_terminal,
)

# A step that fails with output on stdout and stderr, retried once, after a step whose
# undo prints two lines.
FAILS_AFTER_A_CHANGE = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: fails-late, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: prepare
    shell: {run: "echo preparing"}
    undo: {shell: {run: "echo undoing-prepare; echo undo-line-two"}}
  - id: migrate
    readonly: true
    retry: {attempts: 2, backoff: 100ms, jitter: false}
    shell: {run: "echo out-one; echo err-two >&2; echo out-three; exit 3"}
"""

# The first step fails: nothing was changed, nothing is undone.
FAILS_FIRST = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: fails-first, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: migrate
    readonly: true
    shell: {run: "echo nope >&2; exit 3"}
"""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _write(name: str, text: str) -> str:
    path = current_env().work / name
    path.write_text(text)
    return str(path)


def _tall(release: Path) -> str:
    """Twenty steps; the fifteenth prints a line and waits for `release` to appear."""
    step = '  - id: s{:02d}\n    readonly: true\n    shell: {{run: "true"}}\n'
    waits = (
        "  - id: s15\n    readonly: true\n"
        f'    shell: {{run: "echo now-at-fifteen; until [ -e {release} ]; do sleep 0.05; done"}}\n'
    )
    steps = [waits if i == 15 else step.format(i) for i in range(1, 21)]
    header = FAILS_FIRST.split("steps:\n")[0].replace("fails-first", "tall")
    return _write("tall.yaml", header + "steps:\n" + "".join(steps))


def _seen(child: Any) -> str:
    """All the engine wrote to the terminal, without its escapes (colours, cursor moves)."""
    return ANSI.sub("", child.read())


def _last_table(seen: str, title: str) -> str:
    """The table as last drawn: from its last title to the outcome."""
    return seen[seen.rindex(title) : seen.rindex("outcome:")]


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_PLAIN")


@pytest.mark.usefixtures("live")
def test_a_failed_step_shows_its_output_its_retries_and_the_undos_as_they_run() -> None:
    child = spawn_terminal("run", _write("f.yaml", FAILS_AFTER_A_CHANGE), size=(30, 120))
    seen = _seen(child)
    assert finish_terminal(child) == 1

    # Above the table, in the order it happened.
    told = [
        "    │ out-one",
        "  ↻ migrate: attempt 1 failed, retry in 100ms",
        "rolling back completed steps in reverse order",
        "    │ undoing-prepare",
        "    │ undo-line-two",
        "  ↶ undo prepare: succeeded",
    ]
    at = [seen.index(line) for line in told]
    assert at == sorted(at), seen
    # The failed step's row keeps the last lines it wrote, stderr too.
    table = _last_table(seen, "fails-late 1.0.0 (live)")
    assert re.search(r"migrate\s*│ failed\s*│[^│]+│ exit code 3, expected 0", table), table
    for line in ("out-one", "err-two", "out-three"):
        assert line in table, table
    assert re.search(r"prepare\s*│ undone", table), table


@pytest.mark.usefixtures("live")
def test_a_failed_first_step_shows_its_output_and_no_rollback_is_announced() -> None:
    child = spawn_terminal("run", _write("f.yaml", FAILS_FIRST), size=(30, 120))
    seen = _seen(child)
    assert finish_terminal(child) == 1
    assert "nope" in _last_table(seen, "fails-first 1.0.0 (live)")
    assert "rolling back" not in seen


def test_plain_lines_announce_no_rollback_when_nothing_is_undone() -> None:
    ran = runbook("run", _write("f.yaml", FAILS_FIRST))
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "✗ migrate failed" in ran.stdout
    assert "rolling back" not in ran.stdout


def test_plain_lines_say_which_undo_runs_before_its_output() -> None:
    ran = runbook("run", _write("f.yaml", FAILS_AFTER_A_CHANGE))
    assert ran.returncode == 1, ran.stdout + ran.stderr
    rollback = ran.stdout.split("rolling back completed steps in reverse order\n")[1]
    assert rollback.splitlines()[:4] == [
        "  ↶ undo prepare …",
        "    │ undoing-prepare",
        "    │ undo-line-two",
        "  ↶ undo prepare: succeeded",
    ]


@pytest.mark.usefixtures("live")
def test_a_table_taller_than_the_terminal_keeps_the_running_step_on_screen() -> None:
    release = current_env().work / "release"
    child = spawn_terminal("run", _tall(release), size=(15, 100))
    # The running step's row and its output are drawn while it runs: nothing else could
    # have shown its output (its row, once done, shows none).
    child.expect("now-at-fifteen", timeout=10)
    child.expect(r"14/20 steps, \d+ms", timeout=5)
    child.expect(r"… \d+ earlier steps", timeout=5)
    release.touch()
    seen = _seen(child)
    assert finish_terminal(child) == 0
    # The last drawing, the run over, shows every step.
    table = _last_table(seen, "tall 1.0.0 (live) — 20/20 steps")
    assert all(f"s{i:02d}" in table for i in range(1, 21)), table
    assert "earlier steps" not in table
