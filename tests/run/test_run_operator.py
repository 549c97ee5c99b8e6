"""Maturity and the human in the loop: refusals without a terminal, the level-1
checklist, confirm gates, and aborts by Ctrl-C / SIGTERM (process group killed,
completed steps undone, exit 130)."""

from __future__ import annotations

import os
import pwd
import re
import signal
import time
from typing import Any

import pytest
from run_fixtures import (
    OPERATOR,
    current_env,
    events,
    finish_terminal,
    lines,
    playbook,
    processes_matching,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
    sleepers,
    spawn_terminal,
    start_engine,
    unique_marker,
    wait_for,
)

# -- without a terminal -------------------------------------------------------------


def test_level_1_without_a_terminal_is_refused_before_step_1() -> None:
    work = current_env().work

    ran = runbook("run", playbook("level1.yaml"), "-i", f"dir={work}", "--yes")

    assert ran.returncode == 5, ran.stdout + ran.stderr
    assert "refused" in ran.stdout
    assert list(work.iterdir()) == []
    run_id = run_id_of(ran.stdout)
    assert [e["kind"] for e in events(run_id)] == ["run_started", "run_finished"]
    assert [r["status"] for r in runs_json()] == ["refused"]


def test_a_confirm_gate_without_a_terminal_is_refused_before_step_1() -> None:
    work = current_env().work

    ran = runbook("run", playbook("confirm.yaml"), "-i", f"dir={work}")

    assert ran.returncode == 5, ran.stdout + ran.stderr
    assert "confirm gate" in ran.stdout
    assert lines(work / "done") == []
    assert events(run_id_of(ran.stdout), "step_intent") == []


def test_a_confirm_gate_without_a_terminal_passes_with_yes_and_records_the_approval() -> None:
    work = current_env().work

    ran = runbook("run", playbook("confirm.yaml"), "-i", f"dir={work}", "--yes")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines(work / "done") == ["one", "two"]
    run_id = run_id_of(ran.stdout)
    started = events(run_id, "run_started")[0]["data"]
    assert started["approved_by"] == OPERATOR
    answer = events(run_id, "confirm_answer")[0]
    assert (answer["step_id"], answer["data"]["approved"]) == ("two", True)
    assert answer["data"]["by"] == OPERATOR
    asked = events(run_id, "awaiting_operator")[0]["data"]["question"]
    assert asked == f"Restart the database in {work} now?"  # rendered, not `{{ inputs.dir }}`
    shown = runbook("show", run_id)
    assert f"; confirm gates pre-approved by {OPERATOR}" in shown.stdout
    assert f"confirm_answer two: approved by {OPERATOR} (OS user " in shown.stdout


def test_the_os_user_is_recorded_beside_a_declared_operator_that_could_be_spoofed() -> None:
    work = current_env().work
    spoofed = {"RUNBOOK_OPERATOR": "the-boss", "USER": "the-boss", "LOGNAME": "the-boss"}
    real = f"{pwd.getpwuid(os.getuid()).pw_name} (uid {os.getuid()})"

    ran = runbook("run", playbook("confirm.yaml"), "-i", f"dir={work}", "--yes", extra_env=spoofed)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)
    started = events(run_id, "run_started")[0]["data"]
    assert (started["approved_by"], started["os_user"]) == ("the-boss", real)
    answer = events(run_id, "confirm_answer")[0]["data"]
    assert (answer["by"], answer["os_user"]) == ("the-boss", real)
    shown = runbook("show", run_id).stdout
    assert f"operator: the-boss (declared), OS user: {real}" in shown.splitlines()[1]


def test_a_confirm_question_naming_a_secret_is_asked_and_recorded_redacted() -> None:
    work = current_env().work
    canary = "canary-7f3a9e"

    ran = runbook(
        "run", playbook("confirm-secret.yaml"), "-i", f"dir={work}", "--yes",
        extra_env={"CANARY_TOKEN": canary},
    )  # fmt: skip

    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)
    asked = events(run_id, "awaiting_operator")[0]["data"]["question"]
    assert asked == f"Rotate the token «redacted:token» used in {work}?"
    assert canary not in ran.stdout + ran.stderr + runbook("show", run_id).stdout


def test_a_manual_step_without_a_terminal_is_refused_before_step_1() -> None:
    work = current_env().work

    ran = runbook("run", playbook("manual-step.yaml"), "-i", f"dir={work}", "--yes")

    assert ran.returncode == 5, ran.stdout + ran.stderr
    assert lines(work / "done") == []


# -- at a terminal ------------------------------------------------------------------


def _answer(child: Any, answer: str, note: str, think: float = 0.0) -> None:
    child.expect(r"result \(done, failed, skipped\)")
    time.sleep(think)
    child.sendline(answer)
    child.expect(r"note \(optional\)")
    child.sendline(note)


def test_level_1_at_a_terminal_walks_the_checklist_and_executes_nothing() -> None:
    work = current_env().work
    child = spawn_terminal("run", playbook("level1.yaml"), "-i", f"dir={work}")

    child.expect("── Check the disk ──")
    # The command as the shell would get it: the value, then the script reading it.
    child.expect(f"RUNBOOK_V1={work}")
    child.expect(re.escape('touch "${RUNBOOK_V1}"/check-ran; df -h'))
    child.expect("expected: exit code 0, output contains '/dev'")
    _answer(child, "done", "disk 91% full", think=0.3)
    child.expect(re.escape('touch "${RUNBOOK_V1}"/clear-ran'))
    _answer(child, "done", "cleared 2G")
    child.expect(re.escape('touch "${RUNBOOK_V1}"/rotate-ran'))
    _answer(child, "skipped", "not needed today")
    # The manual step shows all of its instructions and its expected result.
    child.expect(f"Open the dashboard of {work}")
    child.expect("and check that the error rate is back under 1%.")
    child.expect("expected: error rate below 1%")
    _answer(child, "failed", "still at 5%")
    # The failure rolls back: the human is asked to undo the one completed change.
    child.expect("── undo clear_cache ──")
    child.expect(re.escape('touch "${RUNBOOK_V1}"/clear-undone'))
    _answer(child, "done", "restored")
    status = finish_terminal(child)

    assert status == 1
    assert list(work.iterdir()) == []  # the engine ran none of the commands or undos
    run_id = runs_json()[0]["run_id"]
    assert runs_json()[0]["mode"] == "guided"
    results = {e["step_id"]: e["data"] for e in events(run_id, "step_result")}
    answers = {sid: (r["status"], r["message"]) for sid, r in results.items()}
    assert answers == {
        "check_disk": ("succeeded", "disk 91% full"),
        "clear_cache": ("succeeded", "cleared 2G"),
        "rotate_logs": ("skipped", "not needed today"),
        "verify": ("failed", "still at 5%"),
    }
    assert results["check_disk"]["duration"] >= 0.3  # the minutes the human spent
    assert all(r["duration"] > 0 for r in results.values())
    undo = events(run_id, "undo_result")
    assert [(e["step_id"], e["data"]["status"], e["data"]["message"]) for e in undo] == [
        ("clear_cache", "succeeded", "restored")
    ]
    assert runs_json()[0]["status"] == "failed"


def test_level_1_at_a_terminal_completes_when_every_step_is_done() -> None:
    work = current_env().work
    child = spawn_terminal("run", playbook("level1.yaml"), "-i", f"dir={work}")
    for note in ("a", "b", "c", "d"):
        _answer(child, "done", note)

    assert finish_terminal(child) == 0
    assert list(work.iterdir()) == []
    assert runs_json()[0]["status"] == "completed"


def test_a_confirm_gate_answered_no_aborts_and_undoes_completed_steps() -> None:
    work = current_env().work
    child = spawn_terminal("run", playbook("confirm.yaml"), "-i", f"dir={work}")

    child.expect(rf"Restart the database in {re.escape(str(work))} now\? \[y/N\]")
    child.sendline("n")
    status = finish_terminal(child)

    assert status == 130
    assert lines(work / "done") == ["one"]
    assert lines(work / "undone") == ["one"]
    run = runs_json()[0]
    assert run["status"] == "aborted"
    answer = events(run["run_id"], "confirm_answer")[0]["data"]
    assert (answer["approved"], answer["by"]) == (False, OPERATOR)


def test_a_confirm_gate_answered_yes_runs_the_step() -> None:
    work = current_env().work
    child = spawn_terminal("run", playbook("confirm.yaml"), "-i", f"dir={work}")

    child.expect(rf"Restart the database in {re.escape(str(work))} now\? \[y/N\]")
    child.sendline("y")

    assert finish_terminal(child) == 0
    assert lines(work / "done") == ["one", "two"]
    assert lines(work / "undone") == []


def _assert_aborted_long_step(marker: str, expected_signal: str) -> None:
    work = current_env().work
    wait_for(lambda: processes_matching(marker) == [], timeout=3, what="the step's group to die")
    assert lines(work / "done") == ["one"]
    assert lines(work / "undone") == ["one"]  # `long` may have half-run: its undo is not safe
    run = runs_json()[0]
    assert run["status"] == "aborted"
    assert expected_signal in run["summary"]["message"]
    long_result = next(e for e in events(run["run_id"], "step_result") if e["step_id"] == "long")
    assert long_result["data"]["status"] == "unknown"
    assert long_result["data"]["duration"] < 3
    assert "never" not in {e["step_id"] for e in events(run["run_id"], "step_intent")}


def test_ctrl_c_during_a_long_step_kills_its_group_and_undoes_completed_steps() -> None:
    work = current_env().work
    marker = unique_marker()
    child = spawn_terminal(
        "run", playbook("long.yaml"), "-i", f"dir={work}", "-i", f"marker={marker}"
    )
    wait_for((work / "long-started").exists, what="the long step")
    wait_for(lambda: len(sleepers(marker)) == 2, what="both sleeps")

    child.sendintr()
    status = finish_terminal(child)

    assert status == 130
    _assert_aborted_long_step(marker, "SIGINT")


def test_sigterm_during_a_long_step_kills_its_group_and_undoes_completed_steps() -> None:
    work = current_env().work
    marker = unique_marker()
    engine = start_engine(
        "run", playbook("long.yaml"), "-i", f"dir={work}", "-i", f"marker={marker}"
    )
    wait_for((work / "long-started").exists, what="the long step")
    wait_for(lambda: len(sleepers(marker)) == 2, what="both sleeps")

    engine.send_signal(signal.SIGTERM)
    output, _ = engine.communicate(timeout=20)

    assert engine.returncode == 130, output
    assert "outcome: aborted" in output
    _assert_aborted_long_step(marker, "SIGTERM")


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_signal_at_a_manual_step_prompt_aborts_at_once(how: str) -> None:
    work = current_env().work
    child = spawn_terminal("run", playbook("manual-step.yaml"), "-i", f"dir={work}", timeout=10)
    child.expect("Second line of the instructions.")
    child.expect(r"result \(done, failed, skipped\)")

    if how == "ctrl-c":
        child.sendintr()
    else:
        child.kill(signal.SIGTERM)
    status = finish_terminal(child, timeout=10)

    assert status == 130
    assert lines(work / "done") == ["one"]
    assert lines(work / "undone") == ["one"]
    run = runs_json()[0]
    assert run["status"] == "aborted"


def test_ctrl_c_at_a_guided_undo_prompt_skips_that_undo_and_the_others_still_run() -> None:
    work = current_env().work
    child = spawn_terminal("run", playbook("level1.yaml"), "-i", f"dir={work}")
    for answer in ("done", "done", "done", "failed"):
        _answer(child, answer, "")
    child.expect("── undo rotate_logs ──")
    child.expect(r"result \(done, failed, skipped\)")
    child.sendintr()
    child.expect("── undo clear_cache ──")
    _answer(child, "done", "restored by hand")
    status = finish_terminal(child)

    assert status == 4
    run = runs_json()[0]
    assert run["status"] == "rollback_failed"
    undos = [(e["step_id"], e["data"]["status"]) for e in events(run["run_id"], "undo_result")]
    assert undos == [("rotate_logs", "failed"), ("clear_cache", "succeeded")]
    assert list(work.iterdir()) == []


def test_a_guided_run_is_not_rolled_back_without_a_terminal() -> None:
    work = current_env().work
    child = spawn_terminal("run", playbook("level1.yaml"), "-i", f"dir={work}")
    for note in ("a", "b", "c", "d"):
        _answer(child, "done", note)
    assert finish_terminal(child) == 0
    run_id = runs_json()[0]["run_id"]

    refused = runbook("rollback", run_id)

    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert "level-1" in refused.stderr
    assert len(runs_json()) == 1  # no rollback run was started


def test_sigterm_during_the_sli_pre_check_aborts_the_run_before_step_1() -> None:
    work = current_env().work
    engine = start_engine("run", playbook("slow-precheck.yaml"), "-i", f"dir={work}")
    wait_for((work / "probing").exists, what="the SLI pre-check")

    engine.send_signal(signal.SIGTERM)
    output, _ = engine.communicate(timeout=20)

    assert engine.returncode == 130, output
    assert lines(work / "done") == []
    run = runs_json()[0]
    assert run["status"] == "aborted"  # recorded as an abort, not left `running`
    assert events(run["run_id"], "step_intent") == []


# Separate and joined short options (`-y -q`, `-yq`) mean the same stop.
@pytest.mark.parametrize("flags", [["-y", "-q"], ["-yq"]])
def test_a_third_signal_during_the_rollback_stops_at_once_with_130(flags: list[str]) -> None:
    work = current_env().work
    engine = start_engine("run", playbook("slow-undo.yaml"), "-i", f"dir={work}", *flags)
    wait_for((work / "long-started").exists, what="the long step")

    engine.send_signal(signal.SIGTERM)  # abort: `long` is killed, `one` is being undone
    wait_for((work / "undo-started").exists, what="the slow undo")
    for _ in range(2):
        engine.send_signal(signal.SIGTERM)
        time.sleep(0.2)
    output, _ = engine.communicate(timeout=20)

    assert engine.returncode == 130, output
    assert output.rstrip().endswith("interrupted"), output
    recovered = runbook("recover")
    assert runs_json()[0]["status"] == "interrupted", recovered.stdout
