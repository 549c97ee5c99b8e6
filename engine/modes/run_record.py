"""`runbook show RUN_ID`: a run told whole from the ledger — what ran, who ran it, with
which inputs, when each thing happened and how it went.

Events are read back through their typed payloads (`engine.core.events`), and each
kind is told in words (`_TOLD`; a test checks that none is missing); a record an older
engine wrote, without a field this engine knows, is shown from its data as they are.
Each event is placed at the time it happened (`ts`): ledgers written before the engine
stored that time give the time its batch was committed.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from msgspec import UNSET, Struct
from msgspec.structs import asdict

from engine.core.durations import format_seconds
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
    read_payload,
)
from engine.core.output_cuts import recorded_cut
from engine.ledger import EventRow, Ledger, RunInfo, RunRow
from engine.ledger.inbox import TriggerRow
from engine.ui.terminal_text import printable_line

INDENT = " " * 11  # under the event's text, past its `+  0.000s` offset
TAIL_LINES = 5  # the lines of a step's output shown; `--output json` has all of it
# The keys shown, in this order and as words (`exit code 0`), of an event that does not
# read as this engine's payload: a record of an older engine, or of a kind it does not know.
SHOWN_KEYS = (
    *("command", "status", "exit_code", "message", "attempt", "delay", "outcome", "reason"),
    *("phase", "verdict", "value", "error", "detail"),  # an SLI sample of an older engine
    *("approved_by", "approved", "by", "os_user"),  # who approved a confirm gate (audit)
    *("target", "targets", "epochs", "holder", "waited", "taken_over"),  # target locks
)
# Why a lease another run held was taken over, by the state `runbook locks` shows.
TAKEN_OVER_BECAUSE = {"owner dead": "its engine was gone", "expired": "its lease had expired"}
WAIT_WORTH_TELLING = 0.05  # seconds: a lock taken sooner was not waited for
P = TypeVar("P", bound=Payload)
_SHELL_SPECIAL = frozenset("'\"\\$`;&|<>()*?[]{}!#~")


class RunRecord(Struct, frozen=True):
    """What the ledger holds of one run."""

    row: RunRow
    info: RunInfo
    events: list[EventRow]
    trigger: TriggerRow | None = None  # the alert decision that started it, if one did
    incident: str | None = None  # the incident it belongs to (or its drill, its run does)


def read_record(ledger: Ledger, run_id: str) -> RunRecord:
    """Run `run_id` (or a unique prefix of it), its events, and the alert behind it."""
    row = ledger.get_run(run_id)
    events = ledger.events(row.run_id)
    trigger = _trigger(ledger, events)
    return RunRecord(row, ledger.run_info(row.run_id), events, trigger, incident_of(ledger, row))


def incident_of(ledger: Ledger, row: RunRow) -> str | None:
    """The incident a run belongs to: itself, or through its parent (the drill it is a
    run of, the run it rolls back)."""
    found = ledger.incident_of_run(row.run_id)
    if found is None and row.parent_run:
        found = ledger.incident_of_run(row.parent_run)
    return found


def _trigger(ledger: Ledger, events: list[EventRow]) -> TriggerRow | None:
    """The decision named by the run's start (a hook run, or an approved proposal)."""
    started = next((e for e in events if e.kind == "run_started"), None)
    trigger_id = started.data.get("trigger") if started is not None else None
    return ledger.get_trigger(str(trigger_id)) if trigger_id else None


def record_json(record: RunRecord) -> str:
    """The run and its events as JSON: the stored fields, and beside them what the text
    view tells (each event's `offset` from the start of the run)."""
    row, info = record.row, record.info
    run = {
        **asdict(row),
        "file": info.file,
        "engine_version": info.engine_version,
        "inputs": info.inputs,
        "os_user": _os_user(record.events),
        "duration": _duration(row),
        "trigger": asdict(record.trigger) if record.trigger else None,
        "incident": record.incident,
    }
    events = [{**asdict(e), "offset": round(e.ts - row.started_at, 6)} for e in record.events]
    return json.dumps({"run": run, "events": events}, indent=2, default=str)


def record_text(record: RunRecord) -> str:
    """The run's header, then one line per event (a step's output tail under it)."""
    row = record.row
    lines = [*_header(record), ""]
    lines += [event_text(row.started_at, event) for event in record.events]
    return "\n".join(lines)


# -- the header ------------------------------------------------------------------------


def _header(record: RunRecord) -> list[str]:
    row, info = record.row, record.info
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.started_at))
    took = _duration(row)
    ended = f" in {format_seconds(took)}" if took is not None else " (not finished)"
    lines = [
        f"run {row.run_id}: {row.playbook} {row.version} ({row.mode}) — {row.status}",
        f"operator: {row.operator} (declared), OS user: {_os_user(record.events)}",
        f"playbook: {row.playbook} {row.version}, file {info.file}",
        f"content: sha256 {row.content_hash}",
        f"engine: runbook-engine {info.engine_version}",
        f"mode: {row.mode}, outcome: {row.status}{ended}; started {started} on {row.host}",
        f"inputs: {_inputs(info.inputs)}",
    ]
    if row.parent_run:
        lines.append(f"parent run: {row.parent_run}")
    if record.trigger is not None:
        lines.append(_alert_line(record.trigger))
    if record.incident is not None:
        lines.append(incident_line(record.incident))
    message = row.summary.get("message") if isinstance(row.summary, dict) else None
    if message:
        lines.append(f"message: {printable_line(str(message))}")
    return lines


def incident_line(incident_id: str) -> str:
    return f"incident: {incident_id} (runbook show {incident_id})"


def _alert_line(trigger: TriggerRow) -> str:
    how = "approved proposal" if trigger.decision == "proposed" else "decision"
    text = (
        f"alert: {trigger.alertname} (fingerprint {trigger.fingerprint}, firing since"
        f" {trigger.starts_at}); {how} {trigger.trigger_id}, notification {trigger.notification_id}"
    )
    return printable_line(text)


def _duration(row: RunRow) -> float | None:
    return row.finished_at - row.started_at if row.finished_at is not None else None


def _inputs(inputs: Mapping[str, Any]) -> str:
    """As they were recorded (secrets already redacted), as `-i` would take them."""
    if not inputs:
        return "none"
    return " ".join(f"{name}={_input_value(value)}" for name, value in inputs.items())


def _input_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    # Quoted only where a shell would need it: shlex.quote also quotes any non-ASCII
    # letter, and the mark of a redacted secret.
    plain = text and not any(char.isspace() or char in _SHELL_SPECIAL for char in text)
    return printable_line(text if plain else shlex.quote(text))


def _os_user(events: list[EventRow]) -> str:
    """The account that ran it, as the engine saw it (runs recorded before it did: unknown)."""
    started = next((e for e in events if e.kind == RunStarted.kind), None)
    if started is None:
        return "not recorded"
    payload = read_payload(started.kind, started.data)
    user = payload.os_user if isinstance(payload, RunStarted) else started.data.get("os_user")
    return str(user or "not recorded")


# -- the events --------------------------------------------------------------------------


def event_text(start: float, event: EventRow) -> str:
    """One event as a line (and the lines under it): its offset from `start`, its kind and
    step, then what happened in words. A record an older engine wrote, which does not
    read as this engine's payload, is told from the data it has."""
    offset = f"+{event.ts - start:7.3f}s"
    step = f" {printable_line(event.step_id)}" if event.step_id else ""
    payload = read_payload(event.kind, event.data)
    tell = _TOLD.get(type(payload)) if payload is not None else None
    detail = ": " + tell(payload) if tell is not None and payload is not None else _data(event.data)
    return f"{offset} {printable_line(event.kind)}{step}{detail}"


def _run_started(run: RunStarted) -> str:
    steps = ", ".join(run.steps) or "none"
    text = f"{run.playbook} {run.version} ({run.mode}, level {run.maturity})"
    text += f" by {run.operator} as OS user {run.os_user}; steps {steps}"
    if run.approved_by:
        text += f"; confirm gates pre-approved by {run.approved_by}"
    if run.parent_run:
        text += f"; parent run {run.parent_run}"
    if run.trigger:
        text += f"; for alert decision {run.trigger}"
    return printable_line(text)


def _intent(intent: StepIntent) -> str:
    return _command(intent.command)


def _output(output: Output) -> str:
    return printable_line(output.line)


def _step_retry(retry: StepRetry) -> str:
    of = f" of {retry.attempts}" if isinstance(retry.attempts, int) else ""
    ended = retry.status.replace("_", " ")
    why = f" — {retry.message}" if retry.message else ""
    wait = format_seconds(retry.delay)
    return printable_line(f"attempt {retry.attempt}{of} {ended}{why}; next attempt in {wait}")


def _step_result(result: StepResultEvent) -> str:
    took = f" in {format_seconds(result.duration)}" if result.attempts else " before it started"
    tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    output = result.output if isinstance(result.output, str) else ""
    return _ending(result.status, result.exit_code, result.message, took + tries, output)


def _step_skipped(skipped: StepSkipped) -> str:
    return printable_line(f"skipped ({skipped.reason})")


def _awaiting_operator(awaiting: AwaitingOperator) -> str:
    return "asked the operator: " + printable_line(awaiting.question)


def _confirm_answer(answer: ConfirmAnswer) -> str:
    said = "approved" if answer.approved else "declined"
    return printable_line(f"{said} by {answer.by} (OS user {answer.os_user})")


def _leftovers_killed(killed: LeftoversKilled) -> str:
    of = f"run {killed.of_run}" if killed.of_run else "an earlier run"
    return printable_line(f"killed {killed.processes} processes {of} left running")


def _lock_waited(waited: LockWaited) -> str:
    return printable_line(f"waiting for target {waited.target}, locked by {_holder(waited.holder)}")


def _lock_taken(taken: LockTaken) -> str:
    leases = ", ".join(f"{t} (lease epoch {e})" for t, e in taken.epochs.items())
    text = f"locked targets {leases or ', '.join(taken.targets)}"
    if taken.waited >= WAIT_WORTH_TELLING:
        text += f" after waiting {format_seconds(taken.waited)}"
    for old in taken.taken_over:
        why = TAKEN_OVER_BECAUSE.get(str(old.get("state")), "its lease had expired")
        text += f"; took {old.get('target')} over from {_holder(old)}: {why}"
    if isinstance(taken.held_by, str):
        text += f"; held for this run by {taken.held_by}"
    return printable_line(text)


def _lock_refused(refused: LockRefused) -> str:
    waited = f" after waiting {format_seconds(refused.waited)}" if refused.waited else ""
    holder = _holder(refused.holder)
    return printable_line(f"target {refused.target} is locked by {holder}; gave up{waited}")


def _lock_released(released: LockReleased) -> str:
    return printable_line("released targets " + (", ".join(released.targets) or "none"))


def _lock_release_failed(failed: LockReleaseFailed) -> str:
    expires = format_seconds(failed.expires_in)
    why = printable_line(failed.reason)
    return f"could not release the targets ({why}): their leases expire within {expires}"


def _lock_lost(lost: LockLost) -> str:
    return printable_line(f"lost the targets' lock ({lost.reason}): stopped here")


def _rollback_started(started: RollbackStarted) -> str:
    if not started.steps:
        return "nothing to undo"
    # The completed steps, in the order they ran: they are undone last first.
    return printable_line("undoing " + ", then ".join(reversed(started.steps)))


def _undo_skipped(skipped: UndoSkipped) -> str:
    return printable_line(f"undo skipped ({skipped.reason})")


def _undo_intent(intent: UndoIntent) -> str:
    return printable_line(f"undoing the step, which ended {intent.of_status}")


def _undo_result(result: UndoResultEvent) -> str:
    return _ending(result.status, result.exit_code, result.message, "", result.output)


def _ending(status: str, exit_code: int | None, message: str, took: str, output: str) -> str:
    code = f", exit code {exit_code}" if exit_code is not None else ""
    why = f" — {printable_line(message)}" if message else ""
    return f"{printable_line(status)}{took}{code}{why}{_output_tail(output)}"


def _sli_sample(sample: SliSample) -> str:
    number = f"{sample.value:g}" if sample.value is not None else ""
    value = f", value {number}" if number else ""
    why = sample.error or _series(sample.detail)
    why = "" if why.strip() == number else why  # a command probe's detail is its output
    why = f" ({printable_line(why)})" if why else ""
    return f"{printable_line(sample.phase)} {printable_line(sample.verdict)}{value}{why}"


def _series(detail: str) -> str:
    # An older engine wrote an aggregate's empty label set as "{}": nothing to tell.
    return "" if detail == "{}" else detail


def _rollback_finished(finished: RollbackFinished) -> str:
    if finished.ok:
        return "rollback done: no undo failed"
    return printable_line("undo failed for " + ", ".join(finished.failed))


def _run_finished(finished: RunFinished) -> str:
    why = f" — {printable_line(finished.message)}" if finished.message else ""
    return f"{finished.outcome}{why}"


def _interrupted(found: Interrupted) -> str:
    return printable_line(
        f"{found.reason} (pid {found.owner_pid}): marked interrupted by the engine with pid "
        f"{found.found_by_pid}"
    )


def _tabletop_participants(taking_part: TabletopParticipants) -> str:
    names = ", ".join(taking_part.participants) or "none named"
    return printable_line(f"tabletop walk-through with {names}")


def _tabletop_answer(answered: TabletopAnswer) -> str:
    text = answered.answer.replace("_", " ")
    if answered.gap:
        text += f" (gap: {answered.gap.replace('_', ' ')})"
    if answered.note:
        text += f" — {answered.note}"
    return printable_line(text)


def _tabletop_findings(found: TabletopFindings) -> str:
    said = f"findings: {found.findings}" if found.findings else "no findings written"
    return printable_line(f"walk-through took {format_seconds(found.duration)}; {said}")


def _told(cls: type[P], tell: Callable[[P], str]) -> tuple[type[Payload], Callable[[Payload], str]]:
    """An entry of `_TOLD`: payloads of `cls` are told by `tell`."""

    def call(payload: Payload) -> str:
        assert isinstance(payload, cls)
        return tell(payload)

    return cls, call


# How each kind is told, in words (a test checks that every kind has its entry).
_TOLD: dict[type[Payload], Callable[[Payload], str]] = dict(
    [
        _told(RunStarted, _run_started),
        _told(StepIntent, _intent),
        _told(Output, _output),
        _told(StepRetry, _step_retry),
        _told(StepResultEvent, _step_result),
        _told(StepSkipped, _step_skipped),
        _told(AwaitingOperator, _awaiting_operator),
        _told(ConfirmAnswer, _confirm_answer),
        _told(SliSample, _sli_sample),
        _told(LeftoversKilled, _leftovers_killed),
        _told(LockWaited, _lock_waited),
        _told(LockTaken, _lock_taken),
        _told(LockRefused, _lock_refused),
        _told(LockReleased, _lock_released),
        _told(LockReleaseFailed, _lock_release_failed),
        _told(LockLost, _lock_lost),
        _told(RollbackStarted, _rollback_started),
        _told(UndoSkipped, _undo_skipped),
        _told(UndoIntent, _undo_intent),
        _told(UndoResultEvent, _undo_result),
        _told(RollbackFinished, _rollback_finished),
        _told(RunFinished, _run_finished),
        _told(Interrupted, _interrupted),
        _told(TabletopParticipants, _tabletop_participants),
        _told(TabletopAnswer, _tabletop_answer),
        _told(TabletopFindings, _tabletop_findings),
    ]
)


def told_kinds() -> frozenset[EventKind]:
    """The kinds of event this view tells in words."""
    return frozenset(cls.kind for cls in _TOLD)


def _data(data: Mapping[str, Any]) -> str:
    """An event as its recorded data: the keys of `SHOWN_KEYS` it has, and its output."""
    parts = [_key_value(key, data[key]) for key in SHOWN_KEYS if _present(data.get(key))]
    if data.get("detail") == "{}":
        parts = [part for part in parts if not part.startswith("detail ")]
    output = data.get("output")
    tail = _output_tail(output) if isinstance(output, str) else ""
    return (": " + ", ".join(parts) if parts else "") + tail


def _present(value: Any) -> bool:
    return value not in (None, "", [], {}) and value is not UNSET


def _key_value(key: str, value: Any) -> str:
    """One recorded value, named by its key with its words apart (`exit code 3`)."""
    if key == "command":
        return _command(value)
    if key == "holder":
        return f"holder {_holder(value)}"
    return printable_line(f"{key.replace('_', ' ')} {_plain(value)}")


def _plain(value: Any) -> str:
    """A recorded value as words: a list as its items, a mapping as `key value` pairs."""
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {_plain(item)}" for key, item in value.items())
    return str(value)


def _holder(holder: object) -> str:
    """The holder of a target lock, as the refusal names it."""
    if not isinstance(holder, Mapping):
        return str(holder)
    return f"run {holder.get('run_id')} (host {holder.get('host')}, pid {holder.get('pid')})"


def _command(command: Any) -> str:
    """A command as a shell would print it: an argument list joined and quoted, a shell
    script as its text (each further line of it under the first)."""
    text = shlex.join(map(str, command)) if isinstance(command, list) else str(command)
    first, *rest = text.splitlines() or [""]
    return "$ " + printable_line(first) + "".join(f"\n{INDENT}  {printable_line(r)}" for r in rest)


def _output_tail(output: str) -> str:
    """The last lines of a step's output, after how many lines before them are cut: by
    this view, or by the engine, which records only the last part of a long output."""
    cut = recorded_cut(output)
    kept = cut[1] if cut is not None else output
    if not kept.strip():
        return ""
    lines = kept.rstrip("\n").splitlines()
    shown = lines[-TAIL_LINES:]
    hidden = len(lines) - len(shown)
    notes = []
    if hidden:
        notes.append(f"… {hidden} lines cut (--output json has them)")
    if cut is not None:
        notes.append(f"… earlier output cut: the engine recorded its last {cut[0]} characters")
    return "".join(f"\n{INDENT}│ {line}" for line in [*reversed(notes), *shown])
