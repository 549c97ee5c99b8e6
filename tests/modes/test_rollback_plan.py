"""`runbook rollback`: the recorded playbook text runs only if it is what the run
executed (its content hash), and the undo plan is shown, then confirmed, before any
undo runs: at a terminal by a question, without one by --yes; --dry-run only shows."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest
from run_fixtures import (
    current_env,
    events,
    finish_terminal,
    lines,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
    spawn_terminal,
)


def completed_run() -> str:
    """A run of all-good.yaml: steps one and two done, to be undone."""
    ran = runbook("run", playbook("all-good.yaml"), "-i", f"dir={current_env().work}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return run_id_of(ran.stdout)


def rewrite_recorded_text(run_id: str, old: str, new: str) -> None:
    """What someone with write access to the ledger could do: change the recorded text."""
    conn = sqlite3.connect(current_env().ledger)
    try:
        query = "SELECT data FROM events WHERE run_id = ? AND kind = 'run_started'"
        (raw,) = conn.execute(query, (run_id,)).fetchone()
        data = json.loads(raw)
        assert old in data["source"]
        data["source"] = data["source"].replace(old, new)
        update = "UPDATE events SET data = ? WHERE run_id = ? AND kind = 'run_started'"
        conn.execute(update, (json.dumps(data), run_id))
        conn.commit()
    finally:
        conn.close()


def assert_nothing_undone(rolled: subprocess.CompletedProcess[str], run_id: str) -> None:
    assert lines(current_env().work / "undone") == []
    assert [r["run_id"] for r in runs_json()] == [run_id]  # no rollback run was started
    assert "Traceback" not in rolled.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('echo two >> {{ inputs.dir }}/undone"', 'touch {{ inputs.dir }}/planted"'),
        ("version: 1.0.0", "version: 1.0.1"),  # metadata counts too
        ("steps:", "steps: ["),  # no longer YAML
    ],
    ids=["undo-command", "metadata", "broken"],
)
def test_recorded_text_that_does_not_match_its_hash_refuses_the_rollback(
    old: str, new: str
) -> None:
    run_id = completed_run()
    rewrite_recorded_text(run_id, old, new)

    rolled = runbook("rollback", "--yes", run_id)

    assert rolled.returncode == 5, rolled.stdout + rolled.stderr
    assert f"the playbook text recorded for run {run_id} is not what it ran" in rolled.stderr
    assert "nothing was undone" in rolled.stderr and "hint:" in rolled.stderr
    assert not (current_env().work / "planted").exists()
    assert_nothing_undone(rolled, run_id)


def test_the_undo_plan_is_shown_and_dry_run_undoes_nothing() -> None:
    work = current_env().work
    run_id = completed_run()

    shown = runbook("rollback", "--dry-run", run_id)

    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.splitlines() == [
        f"undo plan of run {run_id} (run-all-good):",
        f"  1. two (succeeded): RUNBOOK_V1={work}",
        '       echo two >> "${RUNBOOK_V1}"/undone',
        f"  2. one (succeeded): RUNBOOK_V1={work}",
        '       echo one >> "${RUNBOOK_V1}"/undone',
    ]
    assert_nothing_undone(shown, run_id)
    as_json = runbook("rollback", "--dry-run", "--output", "json", run_id)
    plan = json.loads(as_json.stdout)
    assert [(s["step"], s["undo"]) for s in plan["steps"]] == [
        ("two", f'RUNBOOK_V1={work}\necho two >> "${{RUNBOOK_V1}}"/undone'),
        ("one", f'RUNBOOK_V1={work}\necho one >> "${{RUNBOOK_V1}}"/undone'),
    ]


def test_without_a_terminal_a_rollback_needs_yes() -> None:
    run_id = completed_run()

    refused = runbook("rollback", run_id)

    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert "undo plan of run" in refused.stdout  # what --yes would do
    assert "no terminal to confirm" in refused.stderr and "--yes" in refused.stderr
    assert_nothing_undone(refused, run_id)


def test_at_a_terminal_the_plan_is_confirmed_before_anything_is_undone() -> None:
    work = current_env().work
    run_id = completed_run()

    declined = spawn_terminal("rollback", run_id)
    declined.expect(r"undo these 2 step\(s\) of run")
    assert lines(work / "undone") == []  # asked before the first undo
    declined.sendline("n")
    assert finish_terminal(declined) == 130
    assert lines(work / "undone") == []

    confirmed = spawn_terminal("rollback", run_id)
    confirmed.expect(r"2\. one \(succeeded\)")
    confirmed.expect(r"undo these 2 step\(s\)")
    confirmed.sendline("y")
    assert finish_terminal(confirmed) == 0
    assert lines(work / "undone") == ["two", "one"]
    [rollback] = [r for r in runs_json() if r["parent_run"] == run_id]
    assert [e["step_id"] for e in events(rollback["run_id"], "undo_result")] == ["two", "one"]


def test_recorded_text_that_lost_a_secret_value_to_redaction_is_not_run() -> None:
    env = current_env()
    # The secret's value is also a word of the playbook ("undo"): the ledger records the
    # text with it redacted, and that text is not what the run executed.
    secret = {"CANARY_TOKEN": "undo"}
    args = ("-i", f"dir={env.work}", "-i", "mode=ok")
    ran = runbook("run", playbook("secret.yaml"), *args, extra_env=secret)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)

    rolled = runbook("rollback", "--yes", run_id, extra_env=secret)

    assert rolled.returncode == 5, rolled.stdout + rolled.stderr
    assert "a secret's value appears in the playbook's own text" in rolled.stderr
    assert not (env.work / "undo-saw").exists()
    assert [r["run_id"] for r in runs_json()] == [run_id]


def rewrite_recorded_result(run_id: str, step: str, **changes: object) -> None:
    """Change, or with None remove, fields of the recorded result of `step`."""
    rewrite_recorded_event(run_id, "step_result", step, **changes)


def rewrite_recorded_event(run_id: str, kind: str, step: str, **changes: object) -> None:
    """Change, or with None remove, fields of the run's recorded `kind` event of `step`
    ("" for an event of the run)."""
    conn = sqlite3.connect(current_env().ledger)
    try:
        where = "WHERE run_id = ? AND kind = ? AND coalesce(step_id, '') = ?"
        key = (run_id, kind, step)
        (raw,) = conn.execute(f"SELECT data FROM events {where}", key).fetchone()
        data = json.loads(raw)
        for name, value in changes.items():
            if value is None:
                del data[name]
            else:
                data[name] = value
        conn.execute(f"UPDATE events SET data = ? {where}", (json.dumps(data), *key))
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "changes",
    [{"status": None}, {"status": "half-done"}, {"captured": "not a mapping"}],
    ids=["no-status", "unknown-status", "captured-not-a-mapping"],
)
def test_a_recorded_result_the_engine_did_not_write_refuses_the_rollback(
    changes: dict[str, object],
) -> None:
    run_id = completed_run()
    rewrite_recorded_result(run_id, "two", **changes)

    rolled = runbook("rollback", "--yes", run_id)

    assert rolled.returncode == 5, rolled.stdout + rolled.stderr
    assert "(step_result of step two) is not one the engine records" in rolled.stderr
    assert "nothing was undone" in rolled.stderr
    assert_nothing_undone(rolled, run_id)


@pytest.mark.parametrize(
    ("kind", "changes", "why"),
    [
        ("run_started", {"source": ["steps: []"]}, "Expected `str`, got `array` - at `$.source`"),
        ("run_started", {"source": None}, "Object missing required field `source`"),
        ("run_started", {"steps": None}, "Object missing required field `steps`"),
        ("lock_taken", {"targets": "db/db-1"}, "Expected `array`, got `str` - at `$.targets`"),
        ("lock_taken", {"targets": [7]}, "Expected `str`, got `int` - at `$.targets[0]`"),
        ("lock_taken", {"epochs": None}, "Object missing required field `epochs`"),
    ],
    ids=["source-a-list", "no-source", "no-steps", "targets-a-text", "a-number", "no-epochs"],
)
def test_a_recorded_start_or_lock_the_engine_did_not_write_refuses_the_rollback(
    kind: str, changes: dict[str, object], why: str
) -> None:
    work = current_env().work
    (work / "release").touch()  # step one of locked.yaml holds until this file exists
    ran = runbook("run", playbook("locked.yaml"), "-i", f"dir={work}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)
    rewrite_recorded_event(run_id, kind, "", **changes)

    for rolled in (runbook("rollback", "--dry-run", run_id), runbook("rollback", "--yes", run_id)):
        assert rolled.returncode == 5, rolled.stdout + rolled.stderr
        said = f"({kind}) is not one the engine records: {why}; nothing was undone"
        assert said in rolled.stderr
        assert "hint: undo the run's steps by hand" in rolled.stderr
        assert "undo plan" not in rolled.stdout  # refused before a plan it could not carry out
        assert_nothing_undone(rolled, run_id)


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "yes"])
def test_nothing_left_to_undo_is_said_plainly_and_records_no_run(
    output: str, dry_run: bool
) -> None:
    run_id = completed_run()
    first = runbook("rollback", "--yes", run_id)
    assert first.returncode == 0, first.stdout + first.stderr
    before = runs_json()

    again = runbook("rollback", "--dry-run" if dry_run else "--yes", "--output", output, run_id)

    assert again.returncode == 0, again.stdout + again.stderr
    said = (
        f"nothing to undo: run {run_id} was already rolled back (by run {run_id_of(first.stdout)})"
    )
    if output == "json":
        assert json.loads(again.stdout) == {"outcome": "completed", "message": said}
    else:
        assert again.stdout.strip() == said
    assert runs_json() == before
    assert lines(current_env().work / "undone") == ["two", "one"]
