"""Text from steps, inputs and the environment reaches a terminal as data: every escape
sequence, carriage return, C1 control and bidirectional override is shown, not obeyed,
in plain lines, the live view, `show`, `runs` and error messages."""

from __future__ import annotations

import pytest
from run_fixtures import (
    finish_terminal,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    spawn_terminal,
)

from engine.ui.terminal_text import printable, printable_line

# Characters a terminal acts on: ESC, BEL, CR, backspace, DEL, C1 CSI, RLO, a raw C1
# byte that arrived undecoded (surrogateescape).
OBEYED = ("\x1b", "\x07", "\r", "\x08", "\x7f", "\x9b", "\u202e", "\udc9b")


@pytest.mark.parametrize("char", OBEYED)
def test_every_obeyed_character_is_shown_as_an_escape(char: str) -> None:
    shown = printable(f"a{char}b")
    assert char not in shown
    assert shown.startswith("a\\") and shown.endswith("b")


def test_ordinary_text_tabs_and_newlines_are_kept() -> None:
    text = "café ✓ 50%\tdone\nnext line"
    assert printable(text) == text
    assert printable_line(text) == "café ✓ 50%\tdone\\nnext line"


def test_the_escapes_say_which_character_it_was() -> None:
    assert printable("\x1b[2J\r\u202e") == "\\x1b[2J\\r\\u202e"
    assert printable("\udc9b") == "\\x9b"  # the byte 0x9b, an 8-bit CSI


def _assert_inert(text: str) -> None:
    for char in OBEYED:
        assert char not in text, f"{char!r} reached the terminal in:\n{text!r}"


def _assert_no_fake_outcome(text: str) -> None:
    """The step printed `outcome: completed` after a CR: it must not pass for the engine's."""
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith("outcome: completed")], text


def test_plain_lines_show_step_output_as_data() -> None:
    result = runbook("run", playbook("terminal-escapes.yaml"))
    assert result.returncode == 1, result.stderr
    _assert_inert(result.stdout + result.stderr)
    _assert_no_fake_outcome(result.stdout + result.stderr)
    assert "\\x1b]0;pwned\\x07" in result.stdout  # shown, so the operator sees it


def test_show_and_runs_show_recorded_text_as_data() -> None:
    result = runbook(
        "run",
        playbook("terminal-escapes.yaml"),
        extra_env={"RUNBOOK_OPERATOR": "mallory\x1b]0;owned\x07"},
    )
    run_id = run_id_of(result.stdout)
    for command in (("show", run_id), ("runs",)):
        shown = runbook(*command)
        assert shown.returncode == 0, shown.stderr
        _assert_inert(shown.stdout)
        _assert_no_fake_outcome(shown.stdout)
    assert "\\x1b[6n" in runbook("show", run_id).stdout


def test_plan_and_run_show_an_input_as_data() -> None:
    note = "note=x\x1b]0;t\x07\ry"
    for command in ("plan", "run"):
        result = runbook(command, playbook("echo-note.yaml"), "-i", note)
        assert result.returncode == 0, result.stderr
        _assert_inert(result.stdout)
        assert "x\\x1b]0;t\\x07\\ry" in result.stdout


def test_the_live_view_shows_step_output_as_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_PLAIN")
    child = spawn_terminal("run", playbook("terminal-escapes.yaml"))
    seen = child.read()
    assert finish_terminal(child) == 1
    # The view's own drawing uses escapes; the step's must not be among them.
    for sequence in ("\x1b]0;pwned", "\x1b[6n", "\x9b", "\u202e", "\x1b[31mred"):
        assert sequence not in seen, repr(seen)
