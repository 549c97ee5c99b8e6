"""Listeners that show a run: plain lines, one JSON object per line, or quiet.

The live terminal view (`engine.ui.live`) builds on the same events.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any, TypeVar

import msgspec.structs

from engine.core.durations import format_seconds
from engine.core.events import (
    Event,
    EventKind,
    LeftoversKilled,
    LockTaken,
    LockWaited,
    Output,
    Payload,
    RollbackStarted,
    RunFinished,
    RunStarted,
    SliSample,
    StepIntent,
    StepResultEvent,
    StepRetry,
    StepSkipped,
    UndoIntent,
    UndoResultEvent,
    UndoSkipped,
)
from engine.ui.terminal_text import printable, printable_line

SYMBOLS = {
    "succeeded": "✓",
    "failed": "✗",
    "timed_out": "⏱",
    "unknown": "?",
    "skipped": "-",
}


def one_line(command: str, width: int = 100) -> str:
    """The first line of a command, shortened, with a note of what was left out."""
    lines = command.strip().splitlines() or [""]
    first = lines[0] if len(lines[0]) <= width else lines[0][: width - 1] + "…"
    return f"{first}  (+{len(lines) - 1} lines)" if len(lines) > 1 else first


def shown_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """An event's values as they may be shown: no character a terminal would obey.

    A command keeps its newlines (`one_line` shows its first line); a message's
    further lines are indented, so no text from a step can pass for a line of the
    engine's own, such as `outcome: completed`; any other value stays on its line.
    """
    return {key: _shown_value(key, value) for key, value in data.items()}


def _shown_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key == "command":
        return printable(value)
    if key == "message":
        return printable(value).replace("\n", "\n      ")
    return printable_line(value)


# A line written to a pipe or a file is on it at most this long after it was written.
FLUSH_DELAY_SECONDS = 0.05


class PromptLines:
    """Writes lines to a stream and has them flushed promptly, but not one by one.

    At a terminal every line is flushed as it is written. To a pipe or a file, a daemon
    thread flushes within `FLUSH_DELAY_SECONDS` of the first line not yet flushed: a run
    of quick steps makes one `write(2)` per 50 ms instead of two per step, and a step
    that runs for long still shows its line at once. `flush` writes everything now (the
    end of a run, or before a message to stderr). A flush the thread could not make
    (the reader went away) is raised by the next `write` or `flush`, as a direct flush
    would have raised it.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.pending = threading.Event()
        self.thread: threading.Thread | None = None
        self.failure: BaseException | None = None
        self.closed = False  # set at exit: the thread flushes no more
        self.at_terminal = _is_terminal(stream)

    def write(self, text: str) -> None:
        self._raise_failure()
        with self.lock:
            self.stream.write(text)
        if self.at_terminal:
            self.flush()
        elif not self.pending.is_set():
            self._start_thread()
            self.pending.set()

    def flush(self) -> None:
        self._raise_failure()
        with self.lock:
            self.stream.flush()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure

    def _start_thread(self) -> None:
        with self.lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=self._flush_soon, name="flush", daemon=True)
            self.thread.start()
        # At exit, flush once under the lock and let the thread be: Python's own shutdown
        # (when it is not skipped) must not find it in the middle of a write.
        atexit.register(self._close)

    def _close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError, ValueError):  # a failure was already reported
            self.flush()

    def _flush_soon(self) -> None:
        while not self.closed:
            self.pending.wait()
            time.sleep(FLUSH_DELAY_SECONDS)
            self.pending.clear()  # a line written from here on is flushed next time
            try:
                with self.lock:
                    if not self.closed:
                        self.stream.flush()
            except (OSError, ValueError) as exc:  # a closed pipe or stream
                self.failure = exc


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def flush_stdout() -> None:
    """Put every line written so far on stdout, before something is said on stderr.

    A display's `PromptLines` writes its lines into stdout at once and only holds back
    the flush: flushing the stream itself is enough.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):  # said by the next write
        sys.stdout.flush()


P = TypeVar("P", bound=Payload)
R = TypeVar("R")


def on(cls: type[P], handle: Callable[[Event, P], R]) -> tuple[EventKind, Callable[[Event], R]]:
    """An entry of a display's table: events of `cls.kind` go to `handle`, with their
    payload as it may be shown (`shown_data`)."""

    def call(event: Event) -> R:
        return handle(event, shown_payload(event, cls))

    return cls.kind, call


def shown_payload(event: Event, cls: type[P]) -> P:
    """The event's payload with its values as they may be shown (`shown_data`)."""
    payload = event.payload
    if isinstance(payload, cls):  # redacted by the bus, as the data are
        return msgspec.structs.replace(payload, **shown_data(payload.fields()))
    return cls(**shown_data(event.data))  # an event made without its payload


def shown_step(event: Event) -> str:
    """The event's step id as it may be shown."""
    return printable_line(event.step_id or "")


class JsonLines:
    """`--output json`: every event as one JSON object per line on stdout."""

    def __init__(self, lines: PromptLines | None = None) -> None:
        self.lines = lines if lines is not None else PromptLines(sys.stdout)

    def __call__(self, event: Event) -> None:
        record = {"ts": event.ts, "kind": event.kind, "run_id": event.run_id}
        if event.step_id:
            record["step"] = event.step_id
        record.update({k: v for k, v in event.data.items() if k != "source"})
        self.lines.write(json.dumps(record, default=str) + "\n")
        if event.kind == EventKind.RUN_FINISHED:
            self.lines.flush()

    def flush(self) -> None:
        """Write the lines held back now."""
        self.lines.flush()


# Kinds plain lines do not show (the engine's bookkeeping, or shown by the next line).
PLAIN_IGNORED = frozenset(
    {
        EventKind.AWAITING_OPERATOR,  # the prompt itself asks
        EventKind.CONFIRM_ANSWER,
        EventKind.LOCK_REFUSED,  # the outcome says why
        EventKind.LOCK_RELEASED,
        EventKind.LOCK_RELEASE_FAILED,
        EventKind.LOCK_LOST,
        EventKind.ROLLBACK_FINISHED,
        EventKind.INTERRUPTED,  # written by the ledger, never emitted
        # a tabletop's: written by `runbook tabletop`, which says them itself; no run emits them
        EventKind.TABLETOP_PARTICIPANTS,
        EventKind.TABLETOP_ANSWER,
        EventKind.TABLETOP_FINDINGS,
    }
)


class PlainLines:
    """Line-oriented progress for logs and pipes; `quiet` keeps only the outcome."""

    def __init__(self, lines: PromptLines | None = None, quiet: bool = False) -> None:
        self.lines = lines if lines is not None else PromptLines(sys.stdout)
        self.quiet = quiet
        self.handlers: dict[EventKind, Callable[[Event], str]] = dict(
            [
                on(RunStarted, self._on_run_started),
                on(StepIntent, self._on_step_intent),
                on(Output, self._on_output),
                on(StepRetry, self._on_step_retry),
                on(StepResultEvent, self._on_step_result),
                on(StepSkipped, self._on_step_skipped),
                on(SliSample, self._on_sli_sample),
                on(LeftoversKilled, self._on_leftovers_killed),
                on(LockWaited, self._on_lock_waited),
                on(LockTaken, self._on_lock_taken),
                on(RollbackStarted, self._on_rollback_started),
                on(UndoIntent, self._on_undo_intent),
                on(UndoResultEvent, self._on_undo_result),
                on(UndoSkipped, self._on_undo_skipped),
                on(RunFinished, self._on_run_finished),
            ]
        )

    def __call__(self, event: Event) -> None:
        finished = event.kind == EventKind.RUN_FINISHED
        if self.quiet and not finished:
            return  # nothing else is shown: not even formatted
        line = self.format(event)
        if line:
            self.lines.write(line + "\n")
        if finished:
            self.lines.flush()

    def flush(self) -> None:
        """Write the lines held back now."""
        self.lines.flush()

    def format(self, event: Event) -> str | None:
        """The line of `event`; None for a kind without one (`PLAIN_IGNORED`, or one this
        engine does not know)."""
        handler = self.handlers.get(event.kind)
        return handler(event) if handler is not None else None  # "" when it says nothing

    def _on_run_started(self, event: Event, run: RunStarted) -> str:
        return f"run {run.playbook} {run.version} ({run.mode})"

    def _on_step_intent(self, event: Event, intent: StepIntent) -> str:
        return f"→ {shown_step(event)}: {one_line(intent.command)}"

    def _on_output(self, event: Event, output: Output) -> str:
        return f"    │ {output.line}"

    def _on_step_retry(self, event: Event, retry: StepRetry) -> str:
        wait = format_seconds(float(retry.delay))
        return f"  ↻ {shown_step(event)}: attempt {retry.attempt} {retry.status}, retry in {wait}"

    def _on_step_result(self, event: Event, result: StepResultEvent) -> str:
        took = format_seconds(float(result.duration))
        message = f" — {result.message}" if result.message else ""
        symbol = SYMBOLS.get(result.status, "?")
        return f"{symbol} {shown_step(event)} {result.status} in {took}{message}"

    def _on_step_skipped(self, event: Event, skipped: StepSkipped) -> str:
        return f"- {shown_step(event)} skipped ({skipped.reason})"

    def _on_sli_sample(self, event: Event, sample: SliSample) -> str:
        value = sample.value
        shown = f" {value:g}" if isinstance(value, int | float) else ""
        why = sample.error or sample.detail or ""
        why = "" if shown.strip() == str(why).strip() else why
        return f"  ◇ SLI {sample.phase}: {sample.verdict}{shown}" + (f" ({why})" if why else "")

    def _on_leftovers_killed(self, event: Event, killed: LeftoversKilled) -> str:
        return f"killed {killed.processes} processes run {killed.of_run} left running"

    def _on_lock_waited(self, event: Event, waited: LockWaited) -> str:
        holder = waited.holder or {}
        return printable_line(  # the holder is nested: shown_data did not reach it
            f"… waiting for target {waited.target!r}, locked by run {holder.get('run_id')} "
            f"(host {holder.get('host')}, pid {holder.get('pid')})"
        )

    def _on_lock_taken(self, event: Event, taken: LockTaken) -> str:
        epochs = taken.epochs or {}
        return printable_line("locked " + ", ".join(f"{t} (epoch {e})" for t, e in epochs.items()))

    def _on_rollback_started(self, event: Event, started: RollbackStarted) -> str:
        if not started.steps:
            return ""  # nothing to undo: nothing to announce
        return "rolling back completed steps in reverse order"

    def _on_undo_intent(self, event: Event, intent: UndoIntent) -> str:
        # Before the undo's output, as `→` is before a step's.
        return f"  ↶ undo {shown_step(event)} …"

    def _on_undo_result(self, event: Event, result: UndoResultEvent) -> str:
        message = f" — {result.message}" if result.message else ""
        return f"  ↶ undo {shown_step(event)}: {result.status}{message}"

    def _on_undo_skipped(self, event: Event, skipped: UndoSkipped) -> str:
        return f"  ↶ undo {shown_step(event)}: skipped ({skipped.reason})"

    def _on_run_finished(self, event: Event, finished: RunFinished) -> str:
        message = f": {finished.message}" if finished.message else ""
        return f"outcome: {finished.outcome}{message}\nrun id: {printable_line(event.run_id)}"
