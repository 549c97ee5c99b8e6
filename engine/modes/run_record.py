"""`runbook show RUN_ID`: a run told whole from the ledger — what ran, who ran it, with
which inputs, when each thing happened and how it went.

Events are read back through their typed payloads (`engine.core.events`); a record an
older engine wrote, without a field this engine knows, is shown from its data as they
are. Each event is placed at the time it happened (`ts`): ledgers written before the
engine stored that time give the time its batch was committed.
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
    Payload,
    RunFinished,
    RunStarted,
    SliSample,
    StepIntent,
    StepResultEvent,
    UndoResultEvent,
    read_payload,
)
from engine.core.output_cuts import recorded_cut
from engine.ledger import EventRow, Ledger, RunInfo, RunRow
from engine.ui.terminal_text import printable_line

INDENT = " " * 11  # under the event's text, past its `+  0.000s` offset
TAIL_LINES = 5  # the lines of a step's output shown; `--output json` has all of it
# The keys an event without its own line shows, in this order.
SHOWN_KEYS = (
    *("command", "status", "exit_code", "message", "attempt", "delay", "outcome", "reason"),
    *("phase", "verdict", "value", "error", "detail"),  # an SLI sample of an older engine
    *("approved_by", "approved", "by", "os_user"),  # who approved a confirm gate (audit)
    *("target", "targets", "epochs", "holder", "waited", "taken_over"),  # target locks
)
P = TypeVar("P", bound=Payload)
_SHELL_SPECIAL = frozenset("'\"\\$`;&|<>()*?[]{}!#~")


class RunRecord(Struct, frozen=True):
    """What the ledger holds of one run."""

    row: RunRow
    info: RunInfo
    events: list[EventRow]


def read_record(ledger: Ledger, run_id: str) -> RunRecord:
    """Run `run_id` (or a unique prefix of it) and its events."""
    row = ledger.get_run(run_id)
    return RunRecord(row, ledger.run_info(row.run_id), ledger.events(row.run_id))


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
    }
    events = [{**asdict(e), "offset": round(e.ts - row.started_at, 6)} for e in record.events]
    return json.dumps({"run": run, "events": events}, indent=2, default=str)


def record_text(record: RunRecord) -> str:
    """The run's header, then one line per event (a step's output tail under it)."""
    row = record.row
    lines = [*_header(record), ""]
    lines += [_event_text(row.started_at, event) for event in record.events]
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
    message = row.summary.get("message") if isinstance(row.summary, dict) else None
    if message:
        lines.append(f"message: {printable_line(str(message))}")
    return lines


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


def _event_text(start: float, event: EventRow) -> str:
    offset = f"+{event.ts - start:7.3f}s"
    step = f" {event.step_id}" if event.step_id else ""
    payload = read_payload(event.kind, event.data)
    tell = _TOLD.get(type(payload)) if payload is not None else None
    detail = tell(payload) if tell is not None and payload is not None else _data(event.data)
    return f"{offset} {event.kind}{step}{detail}"


def _intent(intent: StepIntent) -> str:
    return ": " + _command(intent.command)


def _step_result(result: StepResultEvent) -> str:
    took = f" in {format_seconds(result.duration)}"
    tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    output = result.output if isinstance(result.output, str) else ""
    return _ending(result.status, result.exit_code, result.message, took + tries, output)


def _undo_result(result: UndoResultEvent) -> str:
    return _ending(result.status, result.exit_code, result.message, "", result.output)


def _ending(status: str, exit_code: int | None, message: str, took: str, output: str) -> str:
    code = f", exit code {exit_code}" if exit_code is not None else ""
    why = f" — {printable_line(message)}" if message else ""
    return f": {status}{took}{code}{why}{_output_tail(output)}"


def _sli_sample(sample: SliSample) -> str:
    number = f"{sample.value:g}" if sample.value is not None else ""
    value = f", value {number}" if number else ""
    why = sample.error or _series(sample.detail)
    why = "" if why.strip() == number else why  # a command probe's detail is its output
    why = f" ({printable_line(why)})" if why else ""
    return f": {sample.phase} {sample.verdict}{value}{why}"


def _series(detail: str) -> str:
    # An older engine wrote an aggregate's empty label set as "{}": nothing to tell.
    return "" if detail == "{}" else detail


def _run_finished(finished: RunFinished) -> str:
    why = f" — {printable_line(finished.message)}" if finished.message else ""
    return f": {finished.outcome}{why}"


# The kinds told in their own words; every other is shown as its data (`_data`).
def _told(cls: type[P], tell: Callable[[P], str]) -> tuple[type[Payload], Callable[[Payload], str]]:
    """An entry of `_TOLD`: payloads of `cls` are told by `tell`."""

    def call(payload: Payload) -> str:
        assert isinstance(payload, cls)
        return tell(payload)

    return cls, call


_TOLD: dict[type[Payload], Callable[[Payload], str]] = dict(
    [
        _told(StepIntent, _intent),
        _told(StepResultEvent, _step_result),
        _told(UndoResultEvent, _undo_result),
        _told(SliSample, _sli_sample),
        _told(RunFinished, _run_finished),
    ]
)


def _data(data: Mapping[str, Any]) -> str:
    """An event as its recorded data: the keys of `SHOWN_KEYS` it has, and its output."""
    parts = [_key_value(key, data[key]) for key in SHOWN_KEYS if _present(data.get(key))]
    if data.get("detail") == "{}":
        parts = [part for part in parts if not part.startswith("detail=")]
    output = data.get("output")
    tail = _output_tail(output) if isinstance(output, str) else ""
    return (": " + ", ".join(parts) if parts else "") + tail


def _present(value: Any) -> bool:
    return value not in (None, "", [], {}) and value is not UNSET


def _key_value(key: str, value: Any) -> str:
    if key == "command":
        return _command(value)
    if key == "holder":
        return f"holder={_holder(value)}"
    return f"{key}={printable_line(repr(value))}"


def _holder(holder: object) -> str:
    """The holder of a target lock, as the refusal names it."""
    if not isinstance(holder, dict):
        return repr(holder)
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
