"""The live terminal view of a run (rich): every step with its state, elapsed time and
the tail of its output, then a final summary. Used only when stdout is a terminal."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from msgspec import Struct, field

from engine.core.durations import format_seconds
from engine.core.events import (
    Event,
    EventKind,
    LockTaken,
    LockWaited,
    Output,
    RunFinished,
    RunStarted,
    SliSample,
    StepIntent,
    StepResultEvent,
    StepRetry,
    StepSkipped,
    UndoResultEvent,
)
from engine.steps.base import Operator
from engine.ui.display import SYMBOLS, PlainLines, on, one_line, shown_step

TAIL_LINES = 4
STATE_STYLES = {
    "pending": "dim",
    "running": "bold cyan",
    "succeeded": "green",
    "failed": "bold red",
    "timed_out": "bold red",
    "unknown": "yellow",
    "skipped": "dim",
    "undone": "magenta",
}


# Kinds that change nothing in the live table (`PLAIN_IGNORED` and more: the table shows
# each step's own state, not the rollback's start, leftovers or undo intents).
LIVE_IGNORED = frozenset(
    {
        EventKind.AWAITING_OPERATOR,
        EventKind.CONFIRM_ANSWER,
        EventKind.LEFTOVERS_KILLED,
        EventKind.LOCK_REFUSED,
        EventKind.LOCK_RELEASED,
        EventKind.LOCK_RELEASE_FAILED,
        EventKind.LOCK_LOST,
        EventKind.ROLLBACK_STARTED,
        EventKind.UNDO_SKIPPED,
        EventKind.UNDO_INTENT,
        EventKind.ROLLBACK_FINISHED,
        EventKind.INTERRUPTED,
    }
)


class StepRow(Struct):
    step_id: str
    state: str = "pending"
    started: float | None = None
    elapsed: float | None = None
    command: str = ""
    note: str = ""
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))


class LiveDisplay:
    """A listener that redraws a table of steps as events arrive."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console()
        self.live: Any = None
        self.rows: dict[str, StepRow] = {}
        self.title = ""
        self.sli_line = ""
        self.lines = PlainLines()
        self.handlers: dict[EventKind, Callable[[Event], None]] = dict(
            [
                on(RunStarted, self._on_run_started),
                on(StepIntent, self._on_step_intent),
                on(Output, self._on_output),
                on(StepRetry, self._on_step_retry),
                on(StepResultEvent, self._on_step_result),
                on(StepSkipped, self._on_step_skipped),
                on(SliSample, self._on_sli_sample),
                on(LockWaited, self._on_lock_waited),
                on(LockTaken, self._on_lock_taken),
                on(UndoResultEvent, self._on_undo_result),
                on(RunFinished, self._on_run_finished),
            ]
        )

    def __call__(self, event: Event) -> None:
        handler = self.handlers.get(event.kind)
        if handler is not None:  # other kinds change nothing in the table (LIVE_IGNORED)
            handler(event)

    def _on_run_started(self, event: Event, run: RunStarted) -> None:
        self.title = f"{run.playbook} {run.version} ({run.mode})"
        self.rows = {sid: StepRow(sid) for sid in run.steps}
        self.resume()

    def _row(self, event: Event) -> StepRow:
        step = shown_step(event)
        return self.rows.setdefault(step, StepRow(step))

    def _on_step_intent(self, event: Event, intent: StepIntent) -> None:
        row = self._row(event)
        row.state, row.started, row.command = (
            "running",
            time.monotonic(),
            one_line(intent.command, 80),
        )

    def _on_output(self, event: Event, output: Output) -> None:
        self._row(event).tail.append(output.line[:160])

    def _on_step_retry(self, event: Event, retry: StepRetry) -> None:
        wait = format_seconds(float(retry.delay))
        self._row(event).note = f"attempt {retry.attempt} {retry.status}, retry in {wait}"

    def _on_step_result(self, event: Event, result: StepResultEvent) -> None:
        row = self._row(event)
        row.state, row.elapsed = result.status, float(result.duration)
        row.note = result.message or ""

    def _on_step_skipped(self, event: Event, skipped: StepSkipped) -> None:
        row = self._row(event)
        row.state, row.note = "skipped", skipped.reason

    def _on_sli_sample(self, event: Event, sample: SliSample) -> None:
        value = sample.value
        shown = f" {value:g}" if isinstance(value, int | float) else ""
        why = f" — {sample.error}" if sample.error else ""
        self.sli_line = f"SLI {sample.phase}: {sample.verdict}{shown}{why}"

    def _on_lock_waited(self, event: Event, waited: LockWaited) -> None:
        self.sli_line = self.lines._on_lock_waited(event, waited)  # under the table meanwhile

    def _on_lock_taken(self, event: Event, taken: LockTaken) -> None:
        self.sli_line = self.lines._on_lock_taken(event, taken)

    def _on_undo_result(self, event: Event, result: UndoResultEvent) -> None:
        row = self._row(event)
        ok = result.status == "succeeded"
        row.state = "undone" if ok else row.state
        row.note = "undone" if ok else f"undo {result.status}: {result.message}"

    def _on_run_finished(self, event: Event, finished: RunFinished) -> None:
        self.stop()
        self.console.print(self.lines._on_run_finished(event, finished))

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(
            title=self.title,
            title_justify="left",
            caption=_escape(self.sli_line),
            caption_justify="left",
            expand=False,
            show_edge=False,
        )
        for column in ("", "step", "state", "time", "detail"):
            table.add_column(column, overflow="fold")
        for row in self.rows.values():
            table.add_row(*self._cells(row))
        return table

    def _cells(self, row: StepRow) -> tuple[str, ...]:
        style = STATE_STYLES.get(row.state, "")
        elapsed = row.elapsed
        if elapsed is None and row.started is not None:
            elapsed = time.monotonic() - row.started
        took = format_seconds(elapsed) if elapsed is not None else ""
        detail = (
            "\n".join([row.note or row.command, *row.tail]) if row.state == "running" else row.note
        )
        symbol = {**SYMBOLS, "undone": "↶", "running": "…"}.get(row.state, " ")
        return (symbol, row.step_id, f"[{style}]{row.state}[/]", took, _escape(detail))

    def pause(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def resume(self) -> None:
        from rich.live import Live

        if self.live is None:
            # A fresh Live each time: it draws below whatever was printed meanwhile.
            self.live = Live(self, console=self.console, refresh_per_second=8)
            self.live.start()

    stop = pause


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class PausingOperator:
    """Stops the live view while a human answers, so the prompt is readable."""

    def __init__(self, inner: Operator, display: LiveDisplay) -> None:
        self.inner = inner
        self.display = display

    def confirm(self, question: str) -> bool:
        self.display.pause()
        try:
            return self.inner.confirm(question)
        finally:
            self.display.resume()

    def checklist(self, title: str, body: str, expect: str) -> tuple[str, str]:
        self.display.pause()
        try:
            return self.inner.checklist(title, body, expect)
        finally:
            self.display.resume()
