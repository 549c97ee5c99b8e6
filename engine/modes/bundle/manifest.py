"""`manifest.json`: what a bundle says of its run, each fact from the record where the
ledger holds it, and said to be unknown where it does not."""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Sequence
from typing import Any

from msgspec.structs import asdict

from engine import __version__
from engine.core.events import EventKind
from engine.ledger.inbox import PRUNED, TriggerRow
from engine.modes.bundle.record import RecordedRun
from engine.modes.bundle.secrets import LEDGER_GUARANTEE, SecretNote
from engine.sli.checker import PRE_CHECK
from engine.steps.programs import program_of

FORMAT = "runbook-bundle"
FORMAT_VERSION = 1
NOT_RECORDED = "unknown"
TOOL_VERSION_SOURCE = (
    "not recorded: the ledger keeps no tool's version, and the exporter runs nothing"
    " (a tool here may not be the one the run used)"
)
# The events that tell what a guard of the run decided (besides the alert's decision).
GUARD_EVENTS = (EventKind.LOCK_WAITED, EventKind.LOCK_REFUSED, EventKind.LOCK_LOST)


def run_facts(run: RecordedRun, made: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run's identity, playbook, mode, outcome and times, its parent and the runs it
    made (its rollbacks; a drill's parts), and each step's attempts."""
    info, row = run.info, run.row
    started = run.started() or {}
    return {
        "run_id": info.run_id,
        "attempt": {
            "parent_run": info.parent_run,
            "made": list(made),
            "step_attempts": _step_attempts(run),
        },
        "playbook": {
            "name": info.playbook,
            "version": info.version,
            "file": info.file,
            "content_hash": info.content_hash,
            "evidence_hash": info.evidence_hash,
            "maturity": info.maturity if info.maturity is not None else started.get("maturity"),
        },
        "mode": info.mode,
        "outcome": row.status,
        "message": row.summary.get("message", ""),
        "steps": row.summary.get("steps", {}),
        "started_at": info.started_at,
        "finished_at": row.finished_at,
        "operator": info.operator,
        "os_user": started.get("os_user", NOT_RECORDED),
        "inputs": info.inputs,
    }


def recorder(run: RecordedRun) -> dict[str, Any]:
    """The engine that recorded the run, as far as the ledger tells it."""
    return {
        "engine_version": run.info.engine_version,
        "host": run.info.host,
        "python": NOT_RECORDED,
        "os": NOT_RECORDED,
        "note": "the ledger records the engine's version and host of a run, not its Python or OS",
    }


def exporter() -> dict[str, Any]:
    """This engine, which wrote the bundle (not the one that ran the run)."""
    return {
        "engine_version": __version__,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "os": platform.platform(),
    }


def tools(run: RecordedRun) -> list[dict[str, Any]]:
    """Each recorded command's step type and program (argv[0]), and what is known of
    the program's version."""
    found = []
    for event in run.events:
        if event.kind in (EventKind.STEP_INTENT, EventKind.UNDO_INTENT):
            undo = event.kind == EventKind.UNDO_INTENT
            kind = _step_type(run, event.step_id, undo)
            command = str(event.data.get("command", ""))
            tool = program_of(kind, command) if command else None
            found.append(
                {
                    "step": event.step_id,
                    "undo": undo,
                    "type": kind,
                    "tool": tool or NOT_RECORDED,
                    "version": NOT_RECORDED,
                    "version_source": TOOL_VERSION_SOURCE,
                }
            )
    return found


def _step_type(run: RecordedRun, step_id: str | None, undo: bool) -> str:
    """The step type (YAML key) of a step's action or undo in the run's playbook."""
    steps = run.playbook.steps if run.playbook else ()
    step = next((step for step in steps if step.id == step_id), None)
    action = (step.undo if undo else step.action) if step else None
    return action.type if action else NOT_RECORDED


def approvals(run: RecordedRun) -> dict[str, Any]:
    """Who pre-approved the run (`--yes`), each confirm gate's answer, and the proposal
    a human approved when an alert's run waited for one."""
    started = run.started() or {}
    answers = [
        {"step": event.step_id, "ts": event.ts, **event.data}
        for event in run.events
        if event.kind == EventKind.CONFIRM_ANSWER
    ]
    proposal = None
    if run.trigger is not None and run.trigger.decision != "run":
        proposal = {
            "trigger_id": run.trigger.trigger_id,
            "decision": run.trigger.decision,
            "state": run.trigger.state,
        }
    return {
        "approved_by": started.get("approved_by"),
        "operator": run.info.operator,
        "confirm_answers": answers,
        "proposal": proposal,
    }


def guards(run: RecordedRun) -> list[dict[str, Any]]:
    """What the guards decided, as recorded: the decision on the alert (the webhook's
    guards: busy, cooldown, budget, flapping, or `run` and why), the SLI pre-check, and
    the target locks waited for, refused or lost."""
    decided = []
    if run.trigger is not None:
        trigger = run.trigger
        decided.append(
            {
                "guard": "alert decision",
                "decision": trigger.decision,
                "reason": trigger.reason,
                "ts": trigger.decided_at,
            }
        )
    for event in run.events:
        if event.kind == EventKind.SLI_SAMPLE and event.data.get("phase") == PRE_CHECK:
            verdict = event.data.get("verdict")
            decided.append({"guard": "sli pre-check", "decision": verdict, "ts": event.ts})
        elif event.kind in GUARD_EVENTS:
            decided.append({"guard": str(event.kind), "ts": event.ts, **event.data})
    if run.row.status == "refused":
        decided.append(
            {"guard": "run", "decision": "refused", "reason": run.row.summary.get("message", "")}
        )
    return decided


def trigger_facts(trigger: TriggerRow | None, payload: str) -> dict[str, Any] | None:
    """The decision on the alert that started the run, the notification it came in, and
    that notification's raw body (or why it is not here)."""
    if trigger is None:
        return None
    facts = asdict(trigger)
    facts["payload_status"] = "pruned by retention" if payload == PRUNED else "as received"
    facts["payload"] = _payload(payload)
    return facts


def _payload(payload: str) -> Any:
    """The body as JSON when it is JSON (it was accepted as such), else as text."""
    if payload == PRUNED:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def secrets_facts(notes: Sequence[SecretNote], runs: Sequence[RecordedRun]) -> dict[str, Any]:
    """The declared secrets, whether each was scrubbed again, and the runs whose playbook
    could not be read (their declarations are unknown: the ledger's guarantee stands)."""
    return {
        "declared": [asdict(note) for note in notes],
        "declarations_read_from": {run.info.run_id: run.playbook_read or None for run in runs},
        "guarantee": LEDGER_GUARANTEE,
    }


def _step_attempts(run: RecordedRun) -> dict[str, int]:
    return {
        str(event.step_id): int(event.data.get("attempts", 1))
        for event in run.events
        if event.kind == EventKind.STEP_RESULT and event.step_id is not None
    }
