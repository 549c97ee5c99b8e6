"""One durable commit per step: when each event reaches the ledger, seen from another
connection, and what a SIGKILL during a read-only step leaves behind."""

from __future__ import annotations

import signal
import sqlite3
from contextlib import closing
from pathlib import Path

from run_fixtures import (
    current_env,
    events,
    integrity,
    kill_group_after_test,
    lines,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    runbook,
    runs_json,
    start_engine,
    wait_for,
)

from engine.core.events import Event, EventKind, Payload, RunFinished, StepIntent, StepResultEvent
from engine.core.outcome import Outcome
from engine.ledger import Ledger, RunInfo, new_run_id
from engine.run.events import EventBus, LedgerListener
from engine.run.preflight import RunRequest, prepare
from engine.run.runner import Run

RUN_ID = new_run_id()


def committed(path: Path) -> list[tuple[str, str | None]]:
    """(kind, step) of every committed event, read as another process would."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT kind, step_id FROM events ORDER BY seq").fetchall()
    return [(str(kind), step) for kind, step in rows]


def open_run(path: Path) -> Ledger:
    ledger = Ledger.open(path)
    ledger.start_run(
        RunInfo(RUN_ID, "pb", "1.0.0", "sha256:a", "pb.yaml", "live", {}, "me", "here", "0", 0.0)
    )
    return ledger


def test_each_step_is_one_commit_and_a_read_only_intent_waits_for_its_command(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite3"
    with open_run(path) as ledger:
        listener = LedgerListener(ledger)

        def emit(kind: str, step: str | None = None, payload: Payload | None = None) -> None:
            data = payload.fields() if payload is not None else {}
            listener(Event(EventKind(kind), RUN_ID, step, data, payload=payload))

        def intent(readonly: bool) -> StepIntent:
            return StepIntent(command="true", readonly=readonly)

        succeeded = StepResultEvent(
            status="succeeded", exit_code=0, message="", attempts=1, duration=0.0
        )

        emit("run_started")
        assert committed(path) == [("run_started", None)]

        # A read-only step: its intent is committed once its command runs.
        emit("step_intent", "look", intent(True))
        assert len(committed(path)) == 1
        listener.commit_deferred()
        assert committed(path)[-1] == ("step_intent", "look")
        emit("step_result", "look", succeeded)

        # Its result shares the next commit, also with a read-only intent.
        emit("step_intent", "look2", intent(True))
        assert committed(path)[-1] == ("step_intent", "look")
        listener.commit_deferred()
        assert committed(path)[-2:] == [("step_result", "look"), ("step_intent", "look2")]
        emit("step_result", "look2", succeeded)

        # A changing step: its intent is durable before it runs.
        emit("step_intent", "change", intent(False))
        assert committed(path)[-2:] == [("step_result", "look2"), ("step_intent", "change")]
        emit("step_result", "change", succeeded)

        # After a changing step's result, even a read-only intent is committed at once:
        # a rollback after a crash must know that the change succeeded.
        emit("step_intent", "look3", intent(True))
        assert committed(path)[-2:] == [("step_result", "change"), ("step_intent", "look3")]
        listener.commit_deferred()  # nothing left to commit
        emit("step_result", "look3", succeeded)

        emit("run_finished", payload=RunFinished(outcome=Outcome.COMPLETED, message=""))
        assert committed(path)[-2:] == [("step_result", "look3"), ("run_finished", None)]
        assert len(committed(path)) == 10


def test_kill_9_during_a_read_only_step_keeps_the_change_before_it_undoable() -> None:
    env = current_env()
    engine = start_engine("run", playbook("crash-readonly.yaml"), "-i", f"dir={env.work}")
    started = env.work / "started"
    wait_for(lambda: started.exists() and started.read_text().strip() != "", what="step look")
    kill_group_after_test(int(started.read_text()))  # the orphaned `sleep 30`
    wait_for(lambda: ("step_intent", "look") in committed(env.ledger), what="look's intent")
    engine.send_signal(signal.SIGKILL)
    engine.communicate(timeout=10)
    assert engine.returncode == -signal.SIGKILL

    assert integrity(env) == "ok"
    run_id = str(runs_json()[0]["run_id"])
    results = {e["step_id"]: e["data"]["status"] for e in events(run_id, "step_result")}
    assert results == {"change": "succeeded"}
    assert [e["step_id"] for e in events(run_id, "step_intent")] == ["change", "look"]
    assert events(run_id)[-1]["kind"] == "interrupted"

    rolled = runbook("rollback", "--yes", run_id)

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert lines(env.work / "undone") == ["change"]


class ChecklistReadingTheLedger:
    """A human at level 1 who, before answering, looks at what the ledger holds."""

    def __init__(self, ledger: Path) -> None:
        self.ledger = ledger
        self.seen: list[list[tuple[str, str | None]]] = []

    def confirm(self, question: str) -> bool:
        return True

    def checklist(self, title: str, body: str, expect: str) -> tuple[str, str]:
        self.seen.append(committed(self.ledger))
        return "done", ""


def test_a_read_only_step_that_waits_for_a_human_is_recorded_before_it_asks() -> None:
    env = current_env()
    run_id = new_run_id()
    request = RunRequest(playbook("level1.yaml"), {"dir": str(env.work)}, interactive=True)
    prepared = prepare(request, run_id, mode="live")
    human = ChecklistReadingTheLedger(env.ledger)
    with Ledger.open(env.ledger) as ledger:
        bus = EventBus(prepared.redactor.redact_data)
        bus.ledger = LedgerListener(ledger)
        result = Run(prepared, run_id, bus, ledger, human).execute()

    assert str(result.outcome) == "completed", result
    assert human.seen[0][-1] == ("step_intent", "check_disk")  # read-only, level 1
    assert all(seen[-1][0] == "step_intent" for seen in human.seen)
