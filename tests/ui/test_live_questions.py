"""The live table of a level-2 run at a real pseudo-terminal, when a human is asked (a
manual step, a confirm gate): the table leaves the screen while the human reads and
answers and comes back after, so the scrollback holds one table (the last), not one
per question; the steps that ended before a question stay above it, one line each."""

from __future__ import annotations

from typing import Any

import pexpect
import pyte
import pytest
from run_fixtures import (
    current_env,
    run_env,  # noqa: F401  (autouse fixture)
    spawn_terminal,
)

ROWS, COLUMNS = 40, 120
GATES = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: gates, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: first
    shell: {run: "echo one"}
    readonly: true
  - id: check
    title: Check the dashboard
    manual: {instructions: "Open the dashboard.", expect: "no errors"}
  - id: second
    confirm: "Restart the service now?"
    shell: {run: "echo two"}
    readonly: true
  - id: third
    shell: {run: "echo three"}
    readonly: true
"""


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_PLAIN")


pytestmark = pytest.mark.usefixtures("live")  # after run_env, which sets it


def _screen_lines(raw: str) -> list[str]:
    """What a terminal shows and keeps in its scrollback after `raw` (pyte)."""
    screen = pyte.HistoryScreen(COLUMNS, ROWS, history=10_000)
    pyte.Stream(screen).feed(raw.replace("\r\n", "\n").replace("\n", "\r\n"))
    kept = ["".join(line[x].data for x in range(COLUMNS)) for line in screen.history.top]
    return [line.rstrip() for line in [*kept, *screen.display] if line.strip()]


def _answered_run() -> tuple[int, list[str]]:
    path = current_env().work / "gates.yaml"
    path.write_text(GATES)
    child: Any = spawn_terminal("run", str(path), size=(ROWS, COLUMNS))
    seen: list[str] = []
    for prompt, answer in (
        (r"\[done\]: ", "done"),
        (r"note \(optional\)", ""),
        (r"\[y/N\]: ", "y"),
    ):
        child.expect(prompt)
        seen.append(child.before + child.after)
        child.sendline(answer)
    child.expect(pexpect.EOF)
    seen.append(child.before)
    child.close()
    status = child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 0)
    return status, _screen_lines("".join(seen))


def test_questions_leave_one_table_in_the_scrollback() -> None:
    status, lines = _answered_run()
    assert status == 0, "\n".join(lines)
    headers = [line for line in lines if "┃ step" in line]
    assert len(headers) == 1, "\n".join(lines)  # three on the code that redrew it
    assert lines.index(headers[0]) > max(
        i for i, line in enumerate(lines) if "Restart the service now?" in line
    )


def test_what_ended_before_a_question_stays_above_it() -> None:
    status, lines = _answered_run()
    text = "\n".join(lines)
    assert status == 0, text
    first = next(i for i, line in enumerate(lines) if line.startswith("✓ first: succeeded in "))
    manual = lines.index("── Check the dashboard ──")
    check = next(i for i, line in enumerate(lines) if line.startswith("✓ check: succeeded in "))
    gate = next(i for i, line in enumerate(lines) if "Restart the service now?" in line)
    assert first < manual < check < gate, text
    assert "gates 1.0.0 (live) — 2/4 steps" in lines[gate - 1], text
