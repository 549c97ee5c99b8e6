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
    AwaitingOperator,
    Event,
    EventKind,
    LockTaken,
    LockWaited,
    Output,
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
from engine.steps.base import Operator
from engine.ui.checklist import ChecklistLines
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
    "undoing": "bold magenta",
    "undo_failed": "bold red",
    "waiting": "bold yellow",
}
# States whose row shows the tail of the step's (or its undo's) output: what ran or failed.
SHOWS_TAIL = frozenset({"running", "undoing", "failed", "timed_out", "unknown", "undo_failed"})
# States a step is in once it ended (counted in the title's progress).
ENDED = frozenset(
    {"succeeded", "failed", "timed_out", "unknown", "skipped", "undone", "undo_failed"}
)
SYMBOL_OF_STATE = {**SYMBOLS, "undone": "↶", "undoing": "↶", "undo_failed": "✗", "running": "…"}
# Lines of the screen the table does not give to rows: title, header, its rule, caption,
# the marks of rows left out, and the line the cursor rests on.
TABLE_OVERHEAD_LINES = 7


# Kinds that change nothing in the live table (`PLAIN_IGNORED` and more: leftovers killed
# are told by the outcome).
LIVE_IGNORED = frozenset(
    {
        EventKind.CONFIRM_ANSWER,
        EventKind.LEFTOVERS_KILLED,
        EventKind.LOCK_REFUSED,
        EventKind.LOCK_RELEASED,
        EventKind.LOCK_RELEASE_FAILED,
        EventKind.LOCK_LOST,
        EventKind.ROLLBACK_FINISHED,
        EventKind.INTERRUPTED,
        EventKind.TABLETOP_PARTICIPANTS,
        EventKind.TABLETOP_ANSWER,
        EventKind.TABLETOP_FINDINGS,
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
        self.started = time.monotonic()
        self.finished = False  # the last drawing shows every row
        self.sli_line = ""
        self.lines = PlainLines()
        self.told: set[str] = set()  # steps whose end is on a line above a question
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
                on(AwaitingOperator, self._on_awaiting_operator),
                on(RollbackStarted, self._on_rollback_started),
                on(UndoIntent, self._on_undo_intent),
                on(UndoResultEvent, self._on_undo_result),
                on(UndoSkipped, self._on_undo_skipped),
                on(RunFinished, self._on_run_finished),
            ]
        )

    def __call__(self, event: Event) -> None:
        handler = self.handlers.get(event.kind)
        if handler is not None:  # other kinds change nothing in the table (LIVE_IGNORED)
            handler(event)

    def _on_run_started(self, event: Event, run: RunStarted) -> None:
        self.title = f"{run.playbook} {run.version} ({run.mode})"
        self.started = time.monotonic()
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
        row = self._row(event)
        wait = format_seconds(float(retry.delay))
        row.note = f"attempt {retry.attempt} {retry.status}, retry in {wait}"
        # Above the table, where it stays: the failed attempt's output and the retry.
        self._say(*self._tail_lines(row), self.lines._on_step_retry(event, retry))
        row.tail.clear()

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

    def _on_awaiting_operator(self, event: Event, waiting: AwaitingOperator) -> None:
        self._wait_for_human(self._row(event))

    def _wait_for_human(self, row: StepRow) -> None:
        """The step waits for an answer: its row says so, without a clock that the pause
        of the view would freeze."""
        row.state, row.started, row.elapsed = "waiting", None, None

    def _on_rollback_started(self, event: Event, started: RollbackStarted) -> None:
        if started.steps:  # nothing to undo: nothing to announce
            self._say(self.lines._on_rollback_started(event, started))

    def _on_undo_intent(self, event: Event, intent: UndoIntent) -> None:
        row = self._row(event)
        row.state, row.started, row.elapsed, row.note = "undoing", time.monotonic(), None, "undo"
        row.tail.clear()  # from here on, the undo's output

    def _on_undo_result(self, event: Event, result: UndoResultEvent) -> None:
        row = self._row(event)
        ok = result.status == "succeeded"
        if row.started is not None:
            row.elapsed = time.monotonic() - row.started
        row.state = "undone" if ok else "undo_failed"
        row.note = "undone" if ok else f"undo {result.status}: {result.message}"
        self._say(*self._tail_lines(row), self.lines._on_undo_result(event, result))

    def _on_undo_skipped(self, event: Event, skipped: UndoSkipped) -> None:
        self._row(event).note = f"undo skipped: {skipped.reason}"
        self._say(self.lines._on_undo_skipped(event, skipped))

    def _say(self, *lines: str) -> None:
        """Print lines above the table: the history of the run scrolls there."""
        from rich.text import Text

        self.console.print(Text("\n".join(lines)), soft_wrap=True)  # one redraw for all

    def _tail_lines(self, row: StepRow) -> list[str]:
        return [f"    │ {line}" for line in row.tail]

    def _on_run_finished(self, event: Event, finished: RunFinished) -> None:
        self.finished = True
        self.stop()
        self.console.print(self.lines._on_run_finished(event, finished))

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(
            title=_escape(f"{self.title} — {self._progress()}"),
            title_justify="left",
            caption=_escape(self.sli_line),
            caption_justify="left",
            expand=False,
            show_edge=False,
        )
        for column in ("", "step", "state", "time", "detail"):
            table.add_column(column, overflow="fold")
        rows = list(self.rows.values())
        shown = range(len(rows)) if self.finished else self._window(rows)
        if shown and shown.start:
            table.add_row("", f"[dim]… {shown.start} earlier steps[/]", "", "", "")
        for index in shown:
            table.add_row(*self._cells(rows[index]))
        if shown and shown.stop < len(rows):
            table.add_row("", f"[dim]… {len(rows) - shown.stop} more steps[/]", "", "", "")
        return table

    def _progress(self) -> str:
        ended = sum(row.state in ENDED for row in self.rows.values())
        took = format_seconds(time.monotonic() - self.started)
        return f"{ended}/{len(self.rows)} steps, {took}"

    def _window(self, rows: list[StepRow]) -> range:
        """The rows that fit the terminal, around the step that runs now (the last one
        that left `pending`): a taller table would push it off the screen."""
        if not rows:
            return range(0)
        budget = self.console.size.height - TABLE_OVERHEAD_LINES - self.sli_line.count("\n")
        started = [i for i, row in enumerate(rows) if row.state != "pending"]
        focus = started[-1] if started else 0
        first, last = focus, focus + 1
        budget -= _height(rows[focus])
        while True:
            grown = False
            for before in (False, True):  # the next steps first, then the earlier ones
                index = first - 1 if before else last
                if 0 <= index < len(rows) and _height(rows[index]) <= budget:
                    budget -= _height(rows[index])
                    first, last = (index, last) if before else (first, index + 1)
                    grown = True
            if not grown:
                return range(first, last)

    def _cells(self, row: StepRow) -> tuple[str, ...]:
        style = STATE_STYLES.get(row.state, "")
        elapsed = row.elapsed
        if elapsed is None and row.started is not None:
            elapsed = time.monotonic() - row.started
        took = format_seconds(elapsed) if elapsed is not None else ""
        detail = row.note or row.command if row.state == "running" else row.note
        if row.state in SHOWS_TAIL:
            detail = "\n".join([detail, *row.tail])
        symbol = SYMBOL_OF_STATE.get(row.state, " ")
        return (symbol, row.step_id, f"[{style}]{row.state}[/]", took, _escape(detail))

    def asking(self, title: str | None) -> None:
        """A question is asked now: the step that runs waits for its answer, and the view
        stops while the human reads and answers. The table is taken off the screen (it
        comes back after the answer, and stays once the run ends), so that questions do
        not leave a copy of it each: the steps that ended since the last question stay,
        one line each, with where the run is."""
        for row in self.rows.values():
            if row.state in ("running", "undoing"):
                self._wait_for_human(row)
        if self.live is not None:
            self.live.transient = True
        self.pause()
        ended = [row for row in self.rows.values() if row.state in ENDED]
        lines = [_ended_line(row) for row in ended if row.step_id not in self.told]
        self.told.update(row.step_id for row in ended)
        self._say(*lines, f"{self.title} — {self._progress()}")

    def answered(self) -> None:
        self.resume()

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


def _ended_line(row: StepRow) -> str:
    """One line for a step that ended: `✓ first: succeeded in 3ms`."""
    took = f" in {format_seconds(row.elapsed)}" if row.elapsed is not None else ""
    note = f" — {one_line(row.note)}" if row.note else ""
    return f"{SYMBOL_OF_STATE.get(row.state, ' ')} {row.step_id}: {row.state}{took}{note}"


def _height(row: StepRow) -> int:
    """Lines the row takes (wrapped lines aside)."""
    return 1 + (len(row.tail) if row.state in SHOWS_TAIL else 0)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class TerminalView:
    """The view of runs at a terminal: the level-1 checklist for a guided playbook (the
    human does every step: nothing runs that a table could show), else the live table.
    Chosen at each run's start, from the playbook's maturity."""

    def __init__(self) -> None:
        self.view: LiveDisplay | ChecklistLines = LiveDisplay()

    def __call__(self, event: Event) -> None:
        if event.kind == EventKind.RUN_STARTED:
            self.view = self._view_of(event.data.get("maturity"))
        self.view(event)

    def _view_of(self, maturity: object) -> LiveDisplay | ChecklistLines:
        if maturity == 1:
            return ChecklistLines()
        return self.view if isinstance(self.view, LiveDisplay) else LiveDisplay()

    def asking(self, title: str | None) -> None:
        """A human is asked now: a step's checklist under `title`, or a question."""
        self.view.asking(title)

    def answered(self) -> None:
        self.view.answered()


class PausingOperator:
    """Tells the view when a human is asked and when they answered: the live table
    stops meanwhile, so the prompt is readable; the checklist names the step."""

    def __init__(self, inner: Operator, view: TerminalView) -> None:
        self.inner = inner
        self.view = view

    def confirm(self, question: str) -> bool:
        self.view.asking(None)  # a question, not a step's title
        try:
            return self.inner.confirm(question)
        finally:
            self.view.answered()

    def checklist(self, title: str, body: str, expect: str) -> tuple[str, str]:
        self.view.asking(title)
        try:
            return self.inner.checklist(title, body, expect)
        finally:
            self.view.answered()
