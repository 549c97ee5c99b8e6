"""`runbook tabletop --answers FILE`: a file that does not fit the playbook is refused at
its `file:line:col` with a hint, exit 2, no traceback, and nothing is recorded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sli_helpers import run_cli
from tabletop_helpers import answers_file, tabletop_playbook

CASES = {
    "a step the playbook does not have": (
        "participants: [ana]\nsteps:\n  drain: would_do\n  call: would_do\n  purge: would_do\n"
        "  reboot: would_do\n",
        "6:3",
        "step 'reboot' is not in the playbook (its steps: drain, call, purge)",
    ),
    "a step left out": (
        "participants: [ana]\nsteps:\n  drain: would_do\n  call: would_do\n",
        "2:1",
        "no answer for step(s) purge",
    ),
    "an answer that is not one": (
        "participants: [ana]\nsteps:\n  drain: {answer: maybe}\n  call: would_do\n"
        "  purge: would_do\n",
        "3:19",
        "step 'drain': 'maybe' is not one of would_do, unclear, blocked",
    ),
    "blocked without its gap": (
        "participants: [ana]\nsteps:\n  drain: would_do\n  call: blocked\n  purge: would_do\n",
        "4:9",
        "step 'call': blocked needs a `gap`, one of missing_permission",
    ),
    "a gap that is not one": (
        "participants: [ana]\nsteps:\n  drain: would_do\n  call: {answer: unclear, gap: vague}\n"
        "  purge: would_do\n",
        "4:32",
        "step 'call': 'vague' is not one of missing_permission, unclear_instruction",
    ),
    "a gap for a step they would do": (
        "participants: [ana]\nsteps:\n  drain: {answer: would_do, gap: other}\n"
        "  call: would_do\n  purge: would_do\n",
        "3:29",
        "step 'drain': a gap is for unclear or blocked",
    ),
    "a key it does not know": (
        "participants: [ana]\nsteps:\n  drain: would_do\n  call: would_do\n  purge: would_do\n"
        "finding: typo\n",
        "6:1",
        "unknown key 'finding' (expected one of participants, steps, findings)",
    ),
    "a note that is not text": (
        "participants: [ana]\nsteps:\n  drain: {answer: would_do, note: [a]}\n"
        "  call: would_do\n  purge: would_do\n",
        "3:35",
        "`note` must be text",
    ),
    "no participants": (
        "steps:\n  drain: would_do\n  call: would_do\n  purge: would_do\n",
        "",
        "nobody takes part: the answers file names no participants",
    ),
    "not YAML": ("participants: [ana\n", "1:15", "YAML syntax error"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_answers_file_that_does_not_fit_is_refused_at_its_place_and_nothing_recorded(
    case: str, tmp_path: Path
) -> None:
    text, place, message = CASES[case]
    path, markers = tabletop_playbook(tmp_path, "http://127.0.0.1:9")
    answers = answers_file(tmp_path, text)

    done = run_cli("tabletop", str(path), "--answers", str(answers))

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert (f"error: {answers}:{place}: " if place else "error: ") + message in done.stderr
    assert message in done.stderr
    assert "hint:" in done.stderr
    assert not (Path(os.environ["RUNBOOK_HOME"]) / "ledger.sqlite3").exists()
    assert list(markers.iterdir()) == []
