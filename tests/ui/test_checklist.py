"""The level-1 checklist at a real pseudo-terminal: each step comes up once with its
title and instructions, the human's answer (first letters will do) stays on the step's
line, a progress line says where the run is and how long it has taken, and nothing is
redrawn or ticks while the human answers; a tally ends the run. A guided rollback and
each part of a level-1 drill read the same way."""

from __future__ import annotations

import io
import re
from typing import Any

import pexpect
import pytest
from run_fixtures import (
    current_env,
    events,
    finish_terminal,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    spawn_terminal,
)

# Three steps: two commands the human runs, and a manual one.
THREE_STEPS = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: checklist, version: 1.0.0, maturity: 1, owner: tests}
steps:
  - id: purge
    title: Clear the cache
    shell: {run: "echo clearing"}
    undo: {shell: {run: "echo restoring"}}
  - id: rotate
    title: Rotate the logs
    shell: {run: "logrotate -f /etc/logrotate.conf"}
  - id: look
    title: Look at the dashboard
    manual: {instructions: "Open the dashboard.\\nCheck the error rate.", expect: "no errors"}
"""

TITLES = {"purge": "Clear the cache", "rotate": "Rotate the logs", "look": "Look at the dashboard"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
ELAPSED = r"\d+(ms|\.\ds|m\d\ds)"


def _playbook() -> str:
    path = current_env().work / "checklist.yaml"
    path.write_text(THREE_STEPS)
    return str(path)


def _answer(child: Any, answer: str, note: str = "") -> None:
    child.expect(r"result \(done, failed, skipped\) \[done\]: ")
    child.sendline(answer)
    child.expect(r"note \(optional\)")
    child.sendline(note)


def _at_a_terminal(*args: str) -> Any:
    """The CLI at a pseudo-terminal, keeping all it writes (`_seen`)."""
    child = spawn_terminal(*args, size=(30, 100))
    child.logfile_read = io.StringIO()
    return child


def _seen(child: Any) -> str:
    """All the engine wrote to the terminal, to its end, without its escapes (colours,
    cursor moves)."""
    child.expect(pexpect.EOF)
    return ANSI.sub("", child.logfile_read.getvalue())


def _in_order(patterns: list[str], seen: str) -> None:
    """Each pattern is found in `seen`, one after the other."""
    at = 0
    for pattern in patterns:
        found = re.compile(pattern).search(seen, at)
        assert found, f"{pattern!r} not after offset {at} of:\n{seen}"
        at = found.end()


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_PLAIN")


pytestmark = pytest.mark.usefixtures("live")  # after run_env, which sets it


def test_each_step_comes_up_once_and_its_answer_stays_on_its_line() -> None:
    child = _at_a_terminal("run", _playbook())
    child.expect("── Clear the cache ──")
    _answer(child, "d", "cache empty")
    child.expect("── Rotate the logs ──")
    _answer(child, "s", "rotated last night")
    child.expect("── Look at the dashboard ──")
    child.expect("Check the error rate.")
    _answer(child, "d")
    seen = _seen(child)
    assert finish_terminal(child) == 0

    # Each step: its progress line, its title with its instructions, its answer's line;
    # nothing of it repeated.
    for step, title in TITLES.items():
        assert len(re.findall(rf"\b{step}\b", seen)) == 2, seen  # progress and answer
        assert seen.count(title) == 2, seen  # heading and answer
    # No table is drawn, and nothing says a step runs or waits: no clock to freeze.
    assert "┃" not in seen and "│" not in seen, seen
    for word in ("running", "waiting", "pending"):
        assert word not in seen, seen
    told = [
        rf"step 1 of 3 \(purge\) · {ELAPSED} elapsed\n",
        "── Clear the cache ──\necho clearing\n",
        rf"\n✓ Clear the cache \(purge\): done in {ELAPSED} — cache empty\n",
        rf"step 2 of 3 \(rotate\) · {ELAPSED} elapsed\n",
        "── Rotate the logs ──\n",
        rf"\n- Rotate the logs \(rotate\): skipped in {ELAPSED} — rotated last night\n",
        rf"step 3 of 3 \(look\) · {ELAPSED} elapsed\n",
        "── Look at the dashboard ──\nOpen the dashboard.\nCheck the error rate.\n",
        rf"\n✓ Look at the dashboard \(look\): done in {ELAPSED}\n",
    ]
    _in_order(told, seen)
    assert re.search(rf"\n3 steps: 2 done, 1 skipped, in {ELAPSED}\noutcome: completed\n", seen)
    assert seen.count("outcome:") == 1, seen

    run_id = run_id_of(seen)
    answers = [(e["step_id"], e["data"]["status"], e["data"]["message"]) for e in events(run_id)
               if e["kind"] == "step_result"]  # fmt: skip
    assert answers == [
        ("purge", "succeeded", "cache empty"),
        ("rotate", "skipped", "rotated last night"),
        ("look", "succeeded", ""),
    ]
    shown = runbook("show", run_id).stdout
    assert "mode: guided, outcome: completed" in shown, shown
    assert "step_result rotate: skipped" in shown, shown


def test_first_letters_are_answers_and_a_failure_is_undone_by_hand_on_the_same_lines() -> None:
    child = _at_a_terminal("run", _playbook())
    child.expect("── Clear the cache ──")
    child.expect(r"result \(done, failed, skipped\) \[done\]: ")
    child.sendline("x")
    child.expect("'x' is not one of done \\(d\\), failed \\(f\\), skipped \\(s\\)")
    _answer(child, "D")
    child.expect("── Rotate the logs ──")
    _answer(child, "F", "no space left")
    child.expect("── undo Clear the cache ──")
    _answer(child, "s")
    seen = _seen(child)
    assert finish_terminal(child) == 1

    assert "┃" not in seen and "waiting" not in seen, seen
    told = [
        r"✓ Clear the cache \(purge\): done in",
        r"✗ Rotate the logs \(rotate\): failed in \S+ — no space left",
        r"\nrolling back completed steps in reverse order",
        r"↶ undo purge: succeeded",
        r"3 steps: 1 done, 1 failed, 1 not reached, in",
        r"outcome: failed: step rotate failed",
    ]
    _in_order(told, seen)


def test_a_guided_rollback_at_a_terminal_reads_as_the_checklist_did() -> None:
    child = _at_a_terminal("run", _playbook())
    for answer in ("d", "d", "d"):
        _answer(child, answer)
    run_id = run_id_of(_seen(child))
    assert finish_terminal(child) == 0

    child = _at_a_terminal("rollback", run_id)
    child.expect(r"\[y/N\]: ")
    child.sendline("y")
    for title in ("Look at the dashboard", "Rotate the logs"):
        child.expect(f"── undo {title} ──")
        _answer(child, "d")
    child.expect("── undo Clear the cache ──")
    _answer(child, "d", "restored")
    seen = _seen(child)
    assert finish_terminal(child) == 0

    assert "┃" not in seen and "waiting" not in seen, seen
    assert "run checklist 1.0.0 (rollback): each undo by hand\n" in seen, seen
    undone = ("look: succeeded", "rotate: succeeded", "purge: succeeded — restored")
    for line in (f"↶ undo {step}" for step in undone):
        assert seen.count(line) == 1, seen
    assert "steps:" not in seen  # no tally of the forward steps: none were asked
    assert "outcome: completed" in seen, seen


def test_an_abort_at_a_prompt_is_told_in_the_tally_as_interrupted() -> None:
    child = _at_a_terminal("run", _playbook())
    _answer(child, "d")
    child.expect("── Rotate the logs ──")
    child.expect(r"result \(done, failed, skipped\) \[done\]: ")
    child.sendintr()
    child.expect("── undo Clear the cache ──")
    _answer(child, "d")
    seen = _seen(child)
    assert finish_terminal(child) == 130

    assert re.search(rf"\n3 steps: 1 done, 1 interrupted, 1 not reached, in {ELAPSED}\n", seen)
    assert "outcome: aborted" in seen, seen


# A drill of a level-1 playbook: the human breaks the service (a flag file), then
# mends it; every part of the drill is a checklist of one step.
DRILL = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {{name: drilled, version: 1.0.0, maturity: 1, owner: tests}}
sli:
  probe:
    command: {{run: "test -e {flag} && echo 0 || echo 1"}}
  healthy: {{below: 1}}
  samples: 1
  interval: 100ms
  timeout: 5s
steps:
  - id: mend
    title: Put the flag back
    manual: {{instructions: "touch {flag}"}}
drill:
  inject:
    - id: break
      title: Remove the flag
      manual: {{instructions: "rm {flag}"}}
  detect_within: 10s
  recover_within: 30s
"""


def test_a_drill_of_a_level_1_playbook_reads_as_checklists() -> None:
    flag = current_env().work / "flag"
    flag.touch()
    path = current_env().work / "drilled.yaml"
    path.write_text(DRILL.format(flag=flag))
    child = _at_a_terminal("drill", str(path), "--yes")
    child.expect("── Remove the flag ──")
    flag.unlink()
    _answer(child, "d")
    child.expect("── Put the flag back ──")
    flag.touch()
    _answer(child, "d")
    child.expect("── undo Remove the flag ──")  # the revert: the inject's undo
    _answer(child, "d")
    seen = _seen(child)
    assert finish_terminal(child) == 0

    assert "┃" not in seen and "waiting" not in seen, seen
    _in_order(
        [
            r"run drilled 1\.0\.0 \(drill\): 1 step to do by hand\n",
            rf"✓ Remove the flag \(break\): done in {ELAPSED}\n",
            rf"\n1 step: 1 done, in {ELAPSED}\noutcome: completed\n",
            rf"✓ Put the flag back \(mend\): done in {ELAPSED}\n",
            r"\noutcome: recovered",
            r"run drilled 1\.0\.0 \(rollback\): each undo by hand\n",
            r"↶ undo break: succeeded\n",
            r"verdict: +PASSED",
        ],
        seen,
    )
