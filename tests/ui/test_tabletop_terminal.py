"""`runbook tabletop` at a real pseudo-terminal: the participants answer each step, the
answers and gaps are recorded, nothing is executed; Ctrl-C keeps the answers so far."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import signal
import stat
import sys
from typing import Any

import pexpect
from http_fixtures import Origin
from run_fixtures import (
    current_env,
    events,
    finish_terminal,
    run_env,  # noqa: F401  (autouse fixture)
    runs_json,
    spawn_terminal,
)
from tabletop_helpers import tabletop_playbook

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _at_a_terminal(*args: str) -> Any:
    child = spawn_terminal(*args, size=(40, 120))
    child.logfile_read = io.StringIO()
    return child


def _answer(child: Any, step: str, answer: str, gap: str = "", note: str = "") -> None:
    child.expect(rf"step \d of 3: {step}")
    child.expect(r"answer: would do \(w\), unclear \(u\), blocked \(b\): ")
    child.sendline(answer)
    if gap:
        child.expect(r"gap: permission \(p\), instruction \(i\), contact \(c\), tool \(t\)")
        child.sendline(gap)
    child.expect(r"note \(optional\): ")
    child.sendline(note)


def test_participants_answer_at_a_terminal_and_nothing_is_executed(http_origin: Origin) -> None:
    work = current_env().work
    path, markers = tabletop_playbook(work, http_origin.url)
    report = work / "tabletop.md"
    child = _at_a_terminal("tabletop", str(path), "--report", str(report))

    child.expect(r"participants \(names, separated by commas\): ")
    child.sendline("ana, bo")
    _answer(child, "drain", "w", note="we do this weekly")
    child.expect(r"step 2 of 3: call")
    child.expect(r"answer: ")
    child.sendline("maybe")  # not an answer: asked again
    child.expect(r"'maybe' is not one of would do")
    child.expect(r"answer: ")
    child.sendline("unclear")
    child.expect(r"gap: ")
    child.sendline("i")
    child.expect(r"note \(optional\): ")
    child.sendline("which flag?")
    _answer(child, "purge", "b", gap="permission", note="no sudo on db hosts")
    child.expect(r"findings \(optional\): ")
    child.sendline("nobody knew who owns db1")

    assert finish_terminal(child) == 0
    seen = ANSI.sub("", child.logfile_read.getvalue())
    assert "nothing is executed, nothing is read" in seen
    assert "confirm: asks 'Drain db1?' before it runs" in seen
    assert "missing permission: purge" in seen
    assert list(markers.iterdir()) == []
    assert http_origin.received == []
    (run,) = runs_json()
    assert (run["mode"], run["status"]) == ("tabletop", "completed")
    answers = {e["step_id"]: e["data"] for e in events(run["run_id"], "tabletop_answer")}
    assert answers == {
        "drain": {"answer": "would_do", "note": "we do this weekly", "gap": ""},
        "call": {"answer": "unclear", "note": "which flag?", "gap": "unclear_instruction"},
        "purge": {"answer": "blocked", "note": "no sudo on db hosts", "gap": "missing_permission"},
    }
    (taking_part,) = events(run["run_id"], "tabletop_participants")
    assert taking_part["data"]["participants"] == ["ana", "bo"]
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert "| 2 | call | unclear | unclear instruction | which flag? |" in report.read_text()


def test_ctrl_c_records_the_tabletop_aborted_with_the_answers_so_far(http_origin: Origin) -> None:
    path, markers = tabletop_playbook(current_env().work, http_origin.url)
    child = _at_a_terminal("tabletop", str(path), "--participant", "ana")

    _answer(child, "drain", "b", gap="t", note="no kubectl on the jump host")
    child.expect(r"step 2 of 3: call")
    child.expect(r"answer: ")
    child.sendintr()

    assert finish_terminal(child) == 130
    (run,) = runs_json()
    assert (run["mode"], run["status"]) == ("tabletop", "aborted")
    assert run["summary"]["steps"] == {"drain": "blocked"}
    assert run["summary"]["gaps"] == [
        {"step": "drain", "gap": "missing_tool", "note": "no kubectl on the jump host"}
    ]
    kinds = [e["kind"] for e in events(run["run_id"])]
    assert kinds[-3:] == ["tabletop_answer", "tabletop_findings", "run_finished"]
    assert list(markers.iterdir()) == []


def test_sigterm_ends_a_tabletop_as_aborted_too(http_origin: Origin) -> None:
    path, _markers = tabletop_playbook(current_env().work, http_origin.url)
    child = _at_a_terminal("tabletop", str(path), "--participant", "ana")
    child.expect(r"answer: ")

    child.kill(signal.SIGTERM)

    assert finish_terminal(child) == 130
    (run,) = runs_json()
    assert run["status"] == "aborted"
    assert "stopped at drain after 0 of 3 step(s)" in run["summary"]["message"]


def test_with_json_output_the_questions_go_to_stderr_and_stdout_is_one_document(
    http_origin: Origin,
) -> None:
    work = current_env().work
    path, _markers = tabletop_playbook(work, http_origin.url)
    out = work / "report.json"
    engine = shlex.join([sys.executable, "-m", "engine", "tabletop", str(path)])
    child = pexpect.spawn(
        "sh",
        ["-c", f"exec {engine} --participant ana --output json > {shlex.quote(str(out))}"],
        env={**os.environ},
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 120),
    )
    for step in ("drain", "call", "purge"):
        _answer(child, step, "w")
    child.expect(r"findings \(optional\): ")
    child.sendline("")

    assert finish_terminal(child) == 0
    document = json.loads(out.read_text())
    assert [step["answer"] for step in document["steps"]] == ["would_do"] * 3
    assert document["participants"] == ["ana"]
    assert document["sli"].startswith("http probe")


def test_ctrl_c_before_anyone_is_named_records_an_aborted_tabletop_without_answers(
    http_origin: Origin,
) -> None:
    path, _markers = tabletop_playbook(current_env().work, http_origin.url)
    child = _at_a_terminal("tabletop", str(path))
    child.expect(r"participants \(names, separated by commas\): ")

    child.sendintr()

    assert finish_terminal(child) == 130
    (run,) = runs_json()
    assert run["status"] == "aborted"
    assert run["summary"]["message"].startswith("stopped before the first of 3 step(s)")
    assert run["summary"]["steps"] == {}
    assert [e["kind"] for e in events(run["run_id"])] == [
        "run_started",
        "tabletop_findings",
        "run_finished",
    ]


MANUAL_PLAYBOOK = r"""apiVersion: runbook/v1
kind: Playbook
metadata: {name: tabletop-manual, version: 1.0.0, maturity: 1, owner: tests}
inputs:
  host: {type: string, default: db1}
steps:
  - id: failover
    manual:
      instructions: "Fail over {{ inputs.host }}:\n- [ ] tell #ops \e]0;all good\a\n\
        - [ ] pg_ctl promote\n"
      expect: "the replica of {{ inputs.host }} takes writes"
"""


def test_a_manual_step_is_shown_whole_at_the_terminal_its_escapes_as_text() -> None:
    work = current_env().work
    path = work / "manual.yaml"
    path.write_text(MANUAL_PLAYBOOK)
    child = _at_a_terminal("tabletop", str(path), "-i", "host=db9", "--participant", "ana")

    child.expect(r"answer: would do \(w\), unclear \(u\), blocked \(b\): ")
    child.sendline("w")
    child.expect(r"note \(optional\): ")
    child.sendline("")
    child.expect(r"findings \(optional\): ")
    child.sendline("")

    assert finish_terminal(child) == 0
    seen = child.logfile_read.getvalue().replace("\r\n", "\n")
    assert (
        "  instructions:\n"
        "           Fail over db9:\n"
        "           - [ ] tell #ops \\x1b]0;all good\\x07\n"
        "           - [ ] pg_ctl promote\n"
    ) in seen
    assert "  expect:  the replica of db9 takes writes" in seen
    assert "\x1b]0;" not in seen  # the terminal was told no title
