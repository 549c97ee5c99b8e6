"""`runbook rollback RUN_ID`: undo the completed, not-yet-undone steps of an earlier run,
also of one whose process died. The playbook is the exact text recorded in the
ledger when the run started, never a file that may have changed since."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import msgspec
import msgspec.structs
from msgspec import UNSET, Struct

from engine.core.errors import EngineError, RefusedError
from engine.core.events import (
    EventKind,
    Listener,
    LockTaken,
    Payload,
    RunStarted,
    StepResultEvent,
    UndoResultEvent,
)
from engine.core.outcome import Outcome
from engine.core.results import Status, StepResult
from engine.ledger import EventRow, Ledger, RunInfo, new_run_id
from engine.model.playbook import Playbook
from engine.modes.run import make_operator, open_ledger
from engine.playbook.loader import load_playbook
from engine.playbook.secret_uses import secrets_read_by_undos
from engine.playbook.traits import capture_name, is_readonly, undo_needs_hands
from engine.run.context.secrets import require_secrets
from engine.run.events import EventBus, LedgerListener
from engine.run.execution import Completed
from engine.run.preflight import Prepared, RunRequest, assemble
from engine.run.runner import Run, RunResult
from engine.run.target_lock import render_targets

UNDONE = (Status.SUCCEEDED, Status.SKIPPED)
P = TypeVar("P", bound=Payload)
REDACTED_MARK = "«redacted:"  # what `engine.run.context.secrets.Redactor` puts in place of a secret
_CHANGED_HINT = (
    "the ledger was changed or damaged since: undo the run's steps by hand "
    "(`runbook show {run}` lists them), and find out who could write the ledger"
)


class RollbackPlan(Struct):
    """A rollback made and not yet started: the ledger stays open until it runs."""

    ledger: Ledger
    run_id: str  # of the run being undone
    prepared: Prepared
    completed: list[Completed]  # what is left to undo as the plan was made
    events: list[EventRow]  # the run's, then its rollbacks'
    targets: tuple[str, ...]  # the targets the run locked: the rollback holds them


def rollback_run(
    run_id: str,
    request: RunRequest,
    listeners: Sequence[Listener] = (),
    ledger: Ledger | None = None,
) -> RunResult:
    """Undo what run `run_id` left done; a new run (mode `rollback`) records it."""
    with planned_rollback(run_id, request, ledger) as plan:
        return execute_rollback(plan, listeners)


@contextmanager
def planned_rollback(
    run_id: str, request: RunRequest, ledger: Ledger | None = None
) -> Iterator[RollbackPlan]:
    """What undoing run `run_id` would do, from its recorded playbook text once that text
    proved to be what the run executed; refused (nothing run) otherwise."""
    with open_ledger(request, ledger) as ledger:
        original = ledger.get_run(run_id)
        if original.status == "running":
            raise RefusedError(f"run {original.run_id} is still running", "abort it first (Ctrl-C)")
        events = _history(ledger, original.run_id)
        prepared = _prepared(ledger, original.run_id, events, request)
        completed = completed_steps(prepared.playbook, events)
        _refuse_without_hands(prepared.playbook, completed, request)
        targets = _locked_targets(prepared, events)  # refused before the plan is shown
        yield RollbackPlan(ledger, original.run_id, prepared, completed, events, targets)


def execute_rollback(plan: RollbackPlan, listeners: Sequence[Listener] = ()) -> RunResult:
    """Undo the plan's steps in reverse order, recorded as a new run. The new run holds
    the targets the original run locked while it undoes, and reads what is left to undo
    once it holds them: of parallel rollbacks of one run, one does the undos. Nothing
    left to undo: nothing is recorded, and the result (run id "") says so."""
    ledger, prepared = plan.ledger, plan.prepared
    if not plan.completed:
        return RunResult("", Outcome.COMPLETED, _nothing_left(ledger, plan.run_id))
    require_undo_secrets(plan)
    prepared.targets = plan.targets
    if prepared.request.lock_owner is None:  # (a drill's revert: the drill holds the targets)
        prepared.targets += (rollback_key(plan.run_id),)
    bus = EventBus(prepared.redactor.redact_data)
    bus.ledger = LedgerListener(ledger)
    bus.listeners.extend(listeners)
    operator = make_operator(prepared.request, listeners)
    run = Run(prepared, new_run_id(), bus, ledger, operator)

    def pending() -> list[Completed]:
        return completed_steps(prepared.playbook, _history(ledger, plan.run_id))

    return run.undo_earlier(pending, lambda: _nothing_left(ledger, plan.run_id))


def require_undo_secrets(plan: RollbackPlan) -> None:
    """Refused (SecretError, exit 2) before any undo when a secret the undos read is not
    set; the plan showed it as a placeholder."""
    require_secrets(
        plan.prepared.secrets,
        f"the undos of run {plan.run_id} read secrets that are not set",
        f"set them; `runbook rollback --dry-run {plan.run_id}` shows the plan without them",
    )


def rollback_key(run_id: str) -> str:
    """The lock every rollback of `run_id` takes besides the run's targets: rollbacks of
    one run exclude each other also when its playbook declares no targets."""
    return f"rollback:{run_id}"


def _nothing_left(ledger: Ledger, run_id: str) -> str:
    """What a rollback of `run_id` says when no step of it is left to undo."""
    children = reversed(ledger.runs(parent_run=run_id, limit=1000))  # oldest first
    undid = (
        child.run_id
        for child in children
        if child.mode == "rollback"
        and any(e.kind == EventKind.UNDO_RESULT for e in ledger.events(child.run_id))
    )
    by = next(undid, None)
    if by is not None:
        return f"nothing to undo: run {run_id} was already rolled back (by run {by})"
    return f"nothing to undo: run {run_id} left no completed step that changes something"


def _locked_targets(prepared: Prepared, events: Iterable[EventRow]) -> tuple[str, ...]:
    """The targets the original run locked (as it rendered them), else rendered again."""
    for event in events:
        if event.kind == EventKind.LOCK_TAKEN:
            return tuple(_recorded(LockTaken, event).targets)
    return render_targets(prepared.playbook, prepared.variables, prepared.redactor)


def _history(ledger: Ledger, run_id: str) -> list[EventRow]:
    """The run's events, then those of rollbacks already made of it."""
    events = ledger.events(run_id)
    for child in reversed(ledger.runs(parent_run=run_id, limit=1000)):
        events += ledger.events(child.run_id)
    return events


def _prepared(
    ledger: Ledger, run_id: str, events: Sequence[EventRow], request: RunRequest
) -> Prepared:
    info = ledger.run_info(run_id)
    started = next((e for e in events if e.kind == EventKind.RUN_STARTED), None)
    if started is None:
        raise RefusedError(f"run {run_id} recorded no playbook text", "undo its steps by hand")
    source = _recorded(RunStarted, started).source
    playbook = _as_run(verified_playbook(info, source), events)
    request = RunRequest(
        info.file,
        dry_run=request.dry_run,
        home=request.home,
        interactive=request.interactive,
        assume_yes=request.assume_yes,
        environ=request.environ,
        inventory=request.inventory,
        wait_lock=request.wait_lock,
        lock_owner=request.lock_owner,
        redactions=request.redactions,
    )
    undone = [c.step for c in completed_steps(playbook, events) if c.needs_undo]
    needed = secrets_read_by_undos(playbook, undone)  # and no other: see the plan's list
    prepared = assemble(request, playbook, source, info.inputs, run_id, "rollback", needed)
    prepared.parent_run = run_id
    _restore_results(prepared, playbook, events)
    return prepared


def verified_playbook(info: RunInfo, source: str) -> Playbook:
    """The playbook of the recorded text, refused unless its content hash is the one the run
    recorded when it started: text changed in the ledger since is never executed."""
    if REDACTED_MARK in source:
        raise _tampered(
            info,
            "a secret's value appears in the playbook's own text, and the ledger recorded "
            "the text with that value redacted",
            "undo the run's steps by hand (`runbook show {run}` lists them), and choose "
            "secret values that do not appear in the playbook's text",
        )
    try:
        playbook = load_playbook(info.file, text=source)
    except EngineError as exc:
        raise _tampered(info, f"it no longer loads ({exc.message})") from None
    if playbook.content_hash != info.content_hash:
        found = f"hash {playbook.content_hash[:16]}, recorded {info.content_hash[:16]}"
        raise _tampered(info, f"its content hash does not match ({found})")
    return playbook


def _tampered(info: RunInfo, why: str, hint: str = _CHANGED_HINT) -> RefusedError:
    return RefusedError(
        f"the playbook text recorded for run {info.run_id} is not what it ran: {why}; "
        "nothing was undone",
        hint.format(run=info.run_id),
    )


def _as_run(playbook: Playbook, events: Iterable[EventRow]) -> Playbook:
    """The playbook as that run executed it: a drill run ran `drill.inject` or
    `drill.revert` in place of the steps, and those are what its rollback undoes."""
    ran = {event.step_id for event in events if event.step_id}
    drill = playbook.drill
    if drill is None or not ran or ran <= {step.id for step in playbook.steps}:
        return playbook
    for section in (drill.inject, drill.revert):
        if section and ran <= {step.id for step in section}:
            return msgspec.structs.replace(playbook, steps=section, sli=None)
    return playbook


def _restore_results(prepared: Prepared, playbook: Playbook, events: Iterable[EventRow]) -> None:
    """Captures and step results, so undo templates render as they would have."""
    steps = {step.id: step for step in playbook.steps}
    for event in events:
        step = steps.get(event.step_id or "")
        if step is None or event.kind != EventKind.STEP_RESULT:
            continue
        recorded = _recorded_result(event)
        result = StepResult(
            _status(event, recorded.status),
            recorded.exit_code,
            recorded.output or "",
            value=recorded.value if recorded.value is not UNSET else None,
        )
        prepared.variables.record(step.id, capture_name(step), result)


def _refuse_without_hands(
    playbook: Playbook, completed: Sequence[Completed], request: RunRequest
) -> None:
    """Before any undo: without a terminal, nobody can answer a guided or manual undo."""
    if request.interactive or not completed:
        return
    if playbook.metadata.maturity == 1:
        raise RefusedError(
            "undoing a level-1 (guided) run needs a human", "run `runbook rollback` in a terminal"
        )
    manual = [c.step.id for c in completed if undo_needs_hands(c.step)]
    if manual:
        raise RefusedError(
            f"no terminal for the manual undo of: {', '.join(manual)}",
            "run `runbook rollback` in a terminal",
        )


def _settled(event: EventRow) -> bool:
    """An undo that succeeded, or one a rollback skipped as not safe (a later one would
    skip it again): either way, no later rollback has that step left to undo."""
    if event.kind == EventKind.UNDO_RESULT:
        return _recorded(UndoResultEvent, event).status in UNDONE
    return event.kind == EventKind.UNDO_SKIPPED


def completed_steps(playbook: Playbook, events: Iterable[EventRow]) -> list[Completed]:
    """Steps that started and change something, in order, minus those a rollback already
    undid or skipped. Read-only steps have nothing to undo (as in the run's own rollback)."""
    steps = {step.id: step for step in playbook.steps if not is_readonly(step)}
    started: dict[str, Completed] = {}
    for event in events:
        step = steps.get(event.step_id or "")
        if step is None:
            continue
        if event.kind == EventKind.STEP_INTENT:
            started[step.id] = Completed(step, Status.UNKNOWN)
        elif event.kind == EventKind.STEP_RESULT and step.id in started:
            result = _recorded_result(event)
            captured = result.captured or {}
            started[step.id] = Completed(step, _status(event, result.status), captured)
        elif _settled(event):
            started.pop(step.id, None)
    return [c for c in started.values() if c.status is not Status.SKIPPED]


def _recorded_result(event: EventRow) -> StepResultEvent:
    return _recorded(StepResultEvent, event)


def _recorded(cls: type[P], event: EventRow) -> P:
    """The typed payload of an event read back from the ledger; refused when its data are
    not what the engine records (changed by hand): no undo is guessed from them."""
    try:
        return msgspec.convert(event.data, cls)
    except msgspec.ValidationError as exc:
        raise _unreadable_event(event, str(exc)) from None


def _status(event: EventRow, status: str) -> Status:
    try:
        return Status(status)
    except ValueError:
        raise _unreadable_event(event, f"unknown status {status!r}") from None


def _unreadable_event(event: EventRow, why: str) -> RefusedError:
    of_step = f" of step {event.step_id}" if event.step_id else ""
    return RefusedError(
        f"event {event.seq} ({event.kind}{of_step}) is not one the engine records: {why}; "
        "nothing was undone",
        "undo the run's steps by hand (`runbook show RUN_ID` lists them)",
    )
