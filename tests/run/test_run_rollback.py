"""Rollback: undos run in reverse order, a failed undo does not stop the others, and a
run whose engine was SIGKILLed is found as interrupted and rolled back exactly once."""

from __future__ import annotations

import json
import signal

import pytest
from run_fixtures import (
    Env,
    current_env,
    events,
    integrity,
    kill_group_after_test,
    lines,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
    start_engine,
    unique_marker,
    wait_for,
)

from engine.core.outcome import Outcome
from engine.modes.run import run_playbook
from engine.run.preflight import RunRequest


def test_undos_run_in_reverse_order_of_the_completed_steps() -> None:
    env = current_env()
    ran = runbook("run", playbook("rollback-order.yaml"), "-i", f"dir={env.work}")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert lines(env.work / "done") == ["one", "two", "three", "boom"]
    # `boom` failed (its undo is not safe after a partial run), `never` was skipped,
    # `look` is read-only: only one, two and three are undone, last first.
    assert lines(env.work / "undone") == ["three", "two", "one"]
    run_id = run_id_of(ran.stdout)
    assert [r["status"] for r in runs_json() if r["run_id"] == run_id] == ["failed"]
    undo_intents = [e["step_id"] for e in events(run_id, "undo_intent")]
    assert undo_intents == ["three", "two", "one"]
    skipped = {e["step_id"]: e["data"]["reason"] for e in events(run_id, "undo_skipped")}
    assert set(skipped) == {"boom"}


def test_a_failing_undo_gives_rollback_failed_and_the_other_undos_still_run() -> None:
    env = current_env()
    ran = runbook(
        "run", playbook("rollback-order.yaml"), "-i", f"dir={env.work}", "-i", "undo_two_exit=3"
    )

    assert ran.returncode == 4, ran.stdout + ran.stderr
    assert "outcome: rollback_failed" in ran.stdout
    # `two`'s undo appended its id, then failed; `one` was still undone after it.
    assert lines(env.work / "undone") == ["three", "two", "one"]
    run_id = run_id_of(ran.stdout)
    results = {e["step_id"]: e["data"]["status"] for e in events(run_id, "undo_result")}
    assert results == {"three": "succeeded", "two": "failed", "one": "succeeded"}
    finished = events(run_id, "rollback_finished")[0]["data"]
    assert finished == {"ok": False, "failed": ["two"]}
    assert [r["status"] for r in runs_json() if r["run_id"] == run_id] == ["rollback_failed"]


def test_a_run_called_through_the_api_rolls_back_in_reverse_order() -> None:
    env = current_env()
    request = RunRequest(
        playbook("rollback-order.yaml"), inputs={"dir": str(env.work), "undo_two_exit": "3"}
    )

    result = run_playbook(request)

    assert result.outcome is Outcome.ROLLBACK_FAILED
    assert int(result.outcome.exit_code) == 4
    assert result.statuses["boom"] == "failed"
    assert result.statuses["never"] == "skipped"
    assert lines(env.work / "undone") == ["three", "two", "one"]


def test_a_completed_run_is_not_rolled_back_and_can_be_rolled_back_later() -> None:
    env = current_env()
    ran = runbook("run", playbook("all-good.yaml"), "-i", f"dir={env.work}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines(env.work / "undone") == []

    rolled = runbook("rollback", "--yes", run_id_of(ran.stdout))

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert lines(env.work / "undone") == ["two", "one"]
    again = runbook("rollback", "--yes", run_id_of(ran.stdout))
    assert again.returncode == 0
    assert lines(env.work / "undone") == ["two", "one"]


def _kill_engine_during_step_3(env: Env, name: str) -> str:
    """Start the 5-step crash playbook, SIGKILL the engine while step 3 sleeps."""
    engine = start_engine("run", playbook(name), "-i", f"dir={env.work}")
    started = env.work / "started"
    wait_for(lambda: started.exists() and started.read_text().strip() != "", what="step 3")
    step_pgid = int(started.read_text())
    kill_group_after_test(step_pgid)  # the orphaned `sleep 30` dies after the test
    engine.send_signal(signal.SIGKILL)
    output, _ = engine.communicate(timeout=10)
    assert engine.returncode == -signal.SIGKILL
    assert "outcome:" not in output
    return run_id_of_running()


def run_id_of_running() -> str:
    rows = runs_json()
    assert len(rows) == 1, rows
    return str(rows[0]["run_id"])


@pytest.mark.parametrize(
    ("name", "expected_undone"),
    [
        ("crash.yaml", ["s2", "s1"]),
        ("crash-undo-interrupted.yaml", ["s3", "s2", "s1"]),
    ],
)
def test_kill_9_during_step_3_is_found_interrupted_and_rolled_back_once(
    name: str, expected_undone: list[str]
) -> None:
    env = current_env()
    run_id = _kill_engine_during_step_3(env, name)

    # The ledger still parses, and the dead run is not left `running`.
    assert integrity(env) == "ok"
    listed = runbook("runs")
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout and "interrupted" in listed.stdout
    recovered = runbook("recover")
    assert recovered.returncode == 0, recovered.stderr
    assert f"interrupted: {run_id}" in recovered.stdout
    shown = events(run_id)
    assert [e["kind"] for e in shown][-1] == "interrupted"
    assert [e["step_id"] for e in shown if e["kind"] == "step_intent"] == ["s1", "s2", "s3"]
    assert lines(env.work / "done") == ["s1", "s2"]

    planned = runbook("rollback", "--dry-run", run_id)  # the step in flight shows as such
    assert planned.returncode == 0, planned.stdout + planned.stderr
    s3 = f"RUNBOOK_V1={env.work}" if "s3" in expected_undone else "not undone"
    assert f"  1. s3 (unknown): {s3}" in planned.stdout
    assert lines(env.work / "undone") == []

    rolled = runbook("rollback", "--yes", run_id)

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert lines(env.work / "undone") == expected_undone
    rollback_runs = [r for r in runs_json() if r["parent_run"] == run_id]
    assert [(r["mode"], r["status"]) for r in rollback_runs] == [("rollback", "completed")]

    # A second rollback finds nothing more to undo, says so and records nothing.
    again = runbook("rollback", "--yes", run_id)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"nothing to undo: run {run_id} was already rolled back" in again.stdout
    assert lines(env.work / "undone") == expected_undone
    assert len([r for r in runs_json() if r["parent_run"] == run_id]) == 1


def test_kill_9_ledger_rows_are_complete_json() -> None:
    env = current_env()
    run_id = _kill_engine_during_step_3(env, "crash.yaml")

    shown = runbook("show", run_id, "--output", "json")

    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["run"]["status"] == "interrupted"
    results = {
        e["step_id"]: e["data"]["status"] for e in document["events"] if e["kind"] == "step_result"
    }
    # Step 3's intent was recorded before it started; it has no result.
    assert results == {"s1": "succeeded", "s2": "succeeded"}


def test_rollback_refuses_a_run_that_is_still_running() -> None:
    env = current_env()
    engine = start_engine(
        "run", playbook("long.yaml"), "-i", f"dir={env.work}", "-i", f"marker={unique_marker()}"
    )
    wait_for((env.work / "long-started").exists, what="the long step")

    refused = runbook("rollback", run_id_of_running())

    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert "still running" in refused.stderr
    assert lines(env.work / "undone") == []
    engine.send_signal(signal.SIGTERM)  # the engine itself rolls back on its way out
    engine.communicate(timeout=20)
    assert engine.returncode == 130
    assert lines(env.work / "undone") == ["one"]


def test_a_later_rollback_skips_read_only_steps() -> None:
    env = current_env()
    ran = runbook("run", playbook("flow.yaml"), "-i", f"dir={env.work}")
    assert ran.returncode == 0, ran.stdout + ran.stderr

    rolled = runbook("rollback", "--yes", run_id_of(ran.stdout))

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    rollback_id = run_id_of(rolled.stdout)
    started = events(rollback_id, "rollback_started")[0]["data"]
    # info, replicas_known, codes, contains and matches are read-only; prod_only was skipped.
    assert started["steps"] == ["use_capture", "after_skip"]
    assert [e["step_id"] for e in events(rollback_id, "undo_intent")] == [
        "after_skip",
        "use_capture",
    ]
    assert not (env.work / "used").exists()  # use_capture's undo removed it


def test_the_skipped_undo_of_a_failed_step_names_the_setting_that_allows_it() -> None:
    env = current_env()

    ran = runbook("run", playbook("rollback-order.yaml"), "-i", f"dir={env.work}")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    allows = "(`undo_if_interrupted: true` on the step says it is)"
    assert "↶ undo boom: skipped (step ended failed; its undo is not safe after a partial run" in (
        ran.stdout
    )
    assert allows in ran.stdout
    [skipped] = events(run_id_of(ran.stdout), "undo_skipped")
    assert allows in skipped["data"]["reason"]


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_rollback_with_only_a_half_run_step_left_says_so_and_records_no_run(
    output: str,
) -> None:
    env = current_env()
    run_id = _kill_engine_during_step_3(env, "crash-first.yaml")  # killed in step 1
    before = runs_json()

    planned = runbook("rollback", "--dry-run", run_id)
    rolled = runbook("rollback", "--yes", "--output", output, run_id)

    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "  1. s1 (unknown): not undone: the step ended unknown;" in planned.stdout
    nothing = f"nothing to undo: run {run_id} left only s1, which may have half-run: "
    assert nothing in planned.stdout
    assert "`undo_if_interrupted: true` on the step says it is" in planned.stdout
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    if output == "json":
        documents = [json.loads(line) for line in rolled.stdout.splitlines()]
        assert documents[0]["kind"] == "undo_plan"
        assert documents[-1]["outcome"] == "completed"
        assert documents[-1]["message"].startswith(nothing)
    else:
        assert nothing in rolled.stdout
    assert not (env.work / "undone").exists()
    assert runs_json() == before  # no empty rollback run
