"""Events a run emits, and the bus that hands them to listeners.

The ledger, the terminal display and the JSON stream are listeners. A failing
listener never stops a run, except the ledger: if an intent cannot be recorded,
the step does not run. Every event passes the redactor before any listener sees it.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

import msgspec.structs

from engine.core.errors import EngineError, ExitCode, LedgerError
from engine.core.events import (
    Event,
    EventKind,
    Flushable,
    Listener,
    Payload,
    StepIntent,
    StepResultEvent,
)
from engine.ledger import EventSpec, Ledger

# Kinds after which the ledger must be durable before the engine goes on: the intent
# of a side effect, the end of a run, and a wait for a target lock (which may be long:
# `runbook show` tells what the run waits for).
DURABLE_KINDS = frozenset(
    {
        EventKind.STEP_INTENT,
        EventKind.UNDO_INTENT,
        EventKind.RUN_STARTED,
        EventKind.RUN_FINISHED,
        EventKind.LOCK_WAITED,
    }
)
# Kinds whose loss in a crash leaves every later rollback unchanged (a result or a retry
# only when its step is read-only).
SAFE_KINDS = frozenset({EventKind.STEP_SKIPPED, EventKind.SLI_SAMPLE})
SAFE_WHEN_READONLY = frozenset({EventKind.STEP_RESULT, EventKind.STEP_RETRY})


class EventBus:
    """Redacts each event, then hands it to the ledger (critical) and the others."""

    def __init__(self, redact: Callable[[Any], Any]) -> None:
        self.redact = redact
        self.ledger: LedgerListener | None = None
        self.listeners: list[Listener] = []
        self.listener_errors = 0

    def emit(self, payload: Payload, run_id: str, step_id: str | None = None) -> Event:
        """Record `payload` as an event of its kind, then show it."""
        event = self._redacted(payload, run_id, step_id)
        if self.ledger is not None:
            self.ledger(event)  # may raise: then the side effect does not happen
        for listener in self.listeners:
            self._notify(listener, event)
        return event

    def transient(self, payload: Payload, run_id: str, step_id: str | None = None) -> None:
        """An event for displays only (live output lines): never written to the ledger."""
        event = self._redacted(payload, run_id, step_id)
        for listener in self.listeners:
            self._notify(listener, event)

    def _redacted(self, payload: Payload, run_id: str, step_id: str | None) -> Event:
        fields = payload.fields()
        data = self.redact(fields)
        # Where a secret was replaced, the typed view shows the same text as the data.
        changed = {
            name: data[name] for name in fields if name in data and data[name] is not fields[name]
        }
        if changed:
            payload = msgspec.structs.replace(payload, **changed)
        return Event(payload.kind, run_id, step_id, data, payload=payload)

    def _notify(self, listener: Listener, event: Event) -> None:
        try:
            listener(event)
        except Exception as exc:
            self.listener_errors += 1
            if self.listener_errors == 1:
                self.flush_listeners()
                print(f"warning: a display failed ({exc}); the run goes on", file=sys.stderr)

    def flush_listeners(self) -> None:
        """Write what the displays hold back, before a message on stderr."""
        for listener in self.listeners:
            if isinstance(listener, Flushable):
                with contextlib.suppress(OSError, ValueError):  # a closed pipe: said later
                    listener.flush()


class LedgerListener:
    """Writes events to the ledger: one commit per step, shared by the step's intent and
    the previous step's result. A result that carries captured undo state is committed at
    once.

    The intent of a read-only step need not be durable before the step starts (after a
    crash there is nothing of it to undo), so when its batch holds nothing else a later
    rollback depends on, its commit is deferred until the step has started
    (`commit_deferred`, called once the command is running, or when the step is over):
    still one durable commit per step, its `fsync` overlapping the command. A batch with
    the result of a step that changes something is always committed before the engine
    goes on.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.pending: list[tuple[str, str | None, Mapping[str, Any]]] = []
        self.pending_times: list[float] = []  # when each pending event happened
        self.run_id = ""
        self.readonly_steps: set[str | None] = set()
        self.pending_safe = True  # nothing in `pending` must be durable before going on
        self.deferred = False  # `pending` ends with a read-only intent, not yet committed
        self.failure: LedgerError | None = None  # the first commit that failed, if any

    def __call__(self, event: Event) -> None:
        self.run_id = event.run_id
        kind, step_id, payload = event.kind, event.step_id, event.payload
        self.pending.append((kind, step_id, event.data))
        self.pending_times.append(event.ts)
        if isinstance(payload, StepIntent) and payload.readonly:
            self.readonly_steps.add(step_id)
            if self.pending_safe and not self.deferred:
                self.deferred = True
            else:
                self.flush(intent=True)
        elif kind in DURABLE_KINDS or (isinstance(payload, StepResultEvent) and payload.captured):
            self.flush(intent=kind == EventKind.STEP_INTENT)
        elif self.pending_safe and not self._safe(kind, step_id):
            self.pending_safe = False

    def _safe(self, kind: EventKind, step_id: str | None) -> bool:
        """Whether losing this event in a crash leaves every later rollback unchanged."""
        if kind in SAFE_WHEN_READONLY:
            return step_id in self.readonly_steps
        return kind in SAFE_KINDS

    def commit_deferred(self) -> None:
        """Commit a deferred read-only intent (and what came before it), if there is one."""
        if self.deferred:
            self.flush(intent=True)

    def flush(self, intent: bool = False) -> None:
        """Commit what is pending, in one transaction.

        When the ledger cannot record (a full disk, an I/O error) nothing is lost: the
        events stay pending, to be committed with the next batch, and `failure` says
        why. Only a step's intent raises: a step never starts unrecorded, while an
        undo, which puts things back, still runs (the runner checks at the end).
        """
        self.deferred = False
        self.pending_safe = True
        if not self.pending:
            return
        try:
            self.ledger.append_many(self.run_id, self.pending, self.pending_times)
        except LedgerError as exc:
            self.failure = self.failure or exc
            if intent:
                if self.pending[-1][0] == EventKind.STEP_INTENT:
                    self.pending.pop()  # that step does not start: it has no intent
                    self.pending_times.pop()
                raise
            return
        self.pending = []
        self.pending_times = []


class UnrecordedRun(EngineError):
    """The ledger could not record all of a run: what it lacks is shown instead."""

    exit_code = ExitCode.ROLLBACK_FAILED  # a human must look now

    def __init__(
        self,
        run_id: str,
        events: list[EventSpec],
        undone: list[str],
        cause: LedgerError | None,
    ) -> None:
        why = f" ({cause.message})" if cause is not None else ""
        warning = (
            f"; its steps {', '.join(undone)} WERE undone: do not roll it back again"
            if undone
            else ""
        )
        lines = [_json_line(run_id, event) for event in events]
        super().__init__(
            f"the ledger could not record {len(events)} events of run {run_id}{why}; it will"
            f" show the run as interrupted{warning}. The events, one JSON object a line:\n"
            + "\n".join(lines),
            hint="free space on the ledger's disk (or repair it), and keep these lines with"
            " the run's record",
        )


def _json_line(run_id: str, event: EventSpec) -> str:
    kind, step_id, data = event
    record = {"run_id": run_id, "kind": kind, "step": step_id, **data}
    return json.dumps(record, default=str)
