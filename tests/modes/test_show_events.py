"""`runbook show RUN_ID` tells every kind of event in words an on-call engineer reads:
never as `key='value'` pairs or a Python repr of a list or a mapping. `--output json`
keeps each event's recorded data as they are."""

from __future__ import annotations

import json
import re

import pytest
from run_fixtures import (
    current_env,
    events,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    show_json,
)

from engine.core.events import (
    AwaitingOperator,
    ConfirmAnswer,
    EventKind,
    Interrupted,
    LeftoversKilled,
    LockLost,
    LockRefused,
    LockReleased,
    LockReleaseFailed,
    LockTaken,
    LockWaited,
    Output,
    Payload,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    SliSample,
    StepIntent,
    StepResultEvent,
    StepRetry,
    StepSkipped,
    TabletopAnswer,
    TabletopFindings,
    TabletopParticipants,
    UndoIntent,
    UndoResultEvent,
    UndoSkipped,
)
from engine.core.outcome import Outcome
from engine.ledger import EventRow
from engine.modes.run_record import event_text, told_kinds

HOLDER = {"run_id": "r-holder", "host": "db-host", "pid": 42, "since": 1.5}
# One event of every kind, its text values with quotes in them (a repr would show them).
SAMPLES: list[Payload] = [
    RunStarted(
        playbook="restart-db",
        version="1.0.0",
        maturity=2,
        mode="live",
        steps=["drain", "restart"],
        approved_by=None,
        operator="ana",
        os_user="ana (uid 1000)",
        parent_run=None,
        source="apiVersion: runbook/v1\n",
    ),
    StepIntent(command="systemctl restart 'db'", readonly=False),
    Output(line="it's up"),
    StepRetry(attempt=2, attempts=3, status="failed", message="exit code 3", delay=1.0),
    StepResultEvent(
        status="failed", exit_code=None, message="could not render: 'x'", attempts=0, duration=0
    ),
    StepSkipped(reason="`when` is false"),
    AwaitingOperator(question="Restart 'db'?"),
    ConfirmAnswer(approved=False, by="ana", os_user="ana (uid 1000)"),
    SliSample(phase="after", verdict="healthy", value=None, error="", detail="", sample_ts=1.0),
    LeftoversKilled(of_run=None, processes=2),
    LockWaited(target="host/db1", holder=HOLDER),
    LockTaken(
        targets=["host/db1"],
        epochs={"host/db1": 7},
        waited=2.5,
        taken_over=[{"target": "host/db1", "state": "owner dead", **HOLDER}],
        held_by="d-drill",
    ),
    LockRefused(target="host/db1", holder=HOLDER, waited=0.0),
    LockReleased(targets=["host/db1", "rollback:r-1"]),
    LockReleaseFailed(reason="the ledger's disk is full", expires_in=30.0),
    LockLost(reason="the lock on host/db1 was taken over by another run"),
    RollbackStarted(steps=["drain", "restart"]),
    UndoSkipped(reason="it's not safe"),
    UndoIntent(of_status="unknown"),
    UndoResultEvent(status="succeeded", exit_code=0, message="", output=""),
    RollbackFinished(ok=False, failed=["drain", "restart"]),
    RunFinished(outcome=Outcome.FAILED, message="step 'restart' failed"),
    Interrupted(reason="engine process gone", owner_pid=41, found_by_pid=43),
    TabletopParticipants(participants=["ana", "bo"]),
    TabletopAnswer(answer="blocked", note="no 'sudo' on db1", gap="missing_permission"),
    TabletopFindings(findings="nobody owns 'db1'", duration=95.0),
]
# What a repr or a key=value dump looks like: `key=`, `['`, `{'`, `': `, None, True.
RAW = re.compile(r"\b\w+=|\[['\"]|\{['\"]|['\"]: |\bNone\b|\bTrue\b|\bFalse\b|\{\}|\[\]")


def _told(payload: Payload, step: str | None = "restart") -> str:
    row = EventRow(seq=1, ts=100.25, kind=payload.kind, step_id=step, data=payload.fields())
    return event_text(100.0, row)


def test_every_kind_of_event_has_its_words() -> None:
    assert told_kinds() == set(EventKind)
    assert {payload.kind for payload in SAMPLES} == set(EventKind)


@pytest.mark.parametrize("payload", SAMPLES, ids=[payload.kind for payload in SAMPLES])
def test_no_event_is_told_as_raw_data(payload: Payload) -> None:
    text = _told(payload)

    assert text.startswith(f"+  0.250s {payload.kind} restart: ")
    told = text.split(": ", 1)[1]
    assert RAW.search(told) is None, told


def test_the_lock_retry_and_rollback_events_read_as_sentences() -> None:
    told = {payload.kind: _told(payload, None).split(": ", 1)[1] for payload in SAMPLES}

    assert told[EventKind.RUN_STARTED] == (
        "restart-db 1.0.0 (live, level 2) by ana as OS user ana (uid 1000); steps drain, restart"
    )
    assert told[EventKind.STEP_RETRY] == "attempt 2 of 3 failed — exit code 3; next attempt in 1.0s"
    assert told[EventKind.LOCK_WAITED] == (
        "waiting for target host/db1, locked by run r-holder (host db-host, pid 42)"
    )
    assert told[EventKind.LOCK_TAKEN] == (
        "locked targets host/db1 (lease epoch 7) after waiting 2.5s; took host/db1 over from "
        "run r-holder (host db-host, pid 42): its engine was gone; held for this run "
        "by d-drill"
    )
    assert told[EventKind.LOCK_REFUSED] == (
        "target host/db1 is locked by run r-holder (host db-host, pid 42); gave up"
    )
    assert told[EventKind.LOCK_RELEASED] == "released targets host/db1, rollback:r-1"
    assert told[EventKind.LOCK_LOST] == (
        "lost the targets' lock (the lock on host/db1 was taken over by another run): stopped here"
    )
    assert told[EventKind.ROLLBACK_STARTED] == "undoing restart, then drain"
    assert told[EventKind.ROLLBACK_FINISHED] == "undo failed for drain, restart"
    assert told[EventKind.STEP_RESULT] == "failed before it started — could not render: 'x'"
    assert told[EventKind.INTERRUPTED] == (
        "engine process gone (pid 41): marked interrupted by the engine with pid 43"
    )
    assert told[EventKind.LEFTOVERS_KILLED] == "killed 2 processes an earlier run left running"
    assert told[EventKind.CONFIRM_ANSWER] == "declined by ana (OS user ana (uid 1000))"


def test_a_tabletops_events_read_as_sentences() -> None:
    told = {payload.kind: _told(payload, None).split(": ", 1)[1] for payload in SAMPLES}

    assert told[EventKind.TABLETOP_PARTICIPANTS] == "tabletop walk-through with ana, bo"
    assert told[EventKind.TABLETOP_ANSWER] == (
        "blocked (gap: missing permission) — no 'sudo' on db1"
    )
    assert told[EventKind.TABLETOP_FINDINGS] == (
        "walk-through took 1m35s; findings: nobody owns 'db1'"
    )


def _shown_lines(run_id: str) -> list[str]:
    shown = runbook("show", run_id)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    return [line.split("s ", 1)[1] for line in shown.stdout.splitlines() if line.startswith("+")]


def test_a_recorded_run_with_retries_tells_its_start_and_each_retry() -> None:
    work = current_env().work
    ran = runbook("run", playbook("retry.yaml"), "-i", f"dir={work}", "-i", "succeed_at=3")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)
    os_user = events(run_id, "run_started")[0]["data"]["os_user"]

    shown = _shown_lines(run_id)

    assert shown[0] == (
        f"run_started: run-retry 1.0.0 (live, level 2) by test-operator as OS user {os_user};"
        " steps flaky"
    )
    retries = [line for line in shown if line.startswith("step_retry")]
    assert retries == [
        "step_retry flaky: attempt 1 of 5 failed — exit code 1, expected 0; next attempt in 100ms",
        "step_retry flaky: attempt 2 of 5 failed — exit code 1, expected 0; next attempt in 200ms",
    ]
    # JSON keeps the recorded data as they are, with the number of attempts beside them.
    recorded = [e["data"] for e in show_json(run_id)["events"] if e["kind"] == "step_retry"]
    assert recorded[0] == {
        "attempt": 1,
        "attempts": 5,
        "status": "failed",
        "message": "exit code 1, expected 0",
        "delay": 0.1,
    }


def test_a_recorded_run_and_its_rollback_tell_their_locks_and_undos() -> None:
    work = current_env().work
    (work / "release").touch()  # step one of locked.yaml holds until this file exists
    ran = runbook("run", playbook("locked.yaml"), "-i", f"dir={work}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)
    rolled = runbook("rollback", "--yes", run_id)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    rollback_id = run_id_of(rolled.stdout)

    shown, undone = _shown_lines(run_id), _shown_lines(rollback_id)

    assert "lock_taken: locked targets db/db-1 (lease epoch 1)" in shown
    assert shown[-2:] == ["lock_released: released targets db/db-1", "run_finished: completed"]
    assert undone[0].endswith(f"; confirm gates pre-approved by test-operator; parent run {run_id}")
    assert undone[1:4] == [
        f"lock_taken: locked targets db/db-1 (lease epoch 2), rollback:{run_id} (lease epoch 1)",
        "rollback_started: undoing two, then one",
        "undo_intent two: undoing the step, which ended succeeded",
    ]
    assert "rollback_finished: rollback done: no undo failed" in undone
    for line in [line for line in shown + undone if not line.startswith("step_intent")]:
        assert RAW.search(line.split(": ", 1)[1]) is None, line
    as_json = json.loads(runbook("show", run_id, "--output", "json").stdout)
    taken = next(e for e in as_json["events"] if e["kind"] == "lock_taken")
    assert taken["data"]["targets"] == ["db/db-1"] and taken["data"]["epochs"] == {"db/db-1": 1}
