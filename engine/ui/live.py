"""The live terminal view of a run (rich): every step with its state, elapsed time and
the tail of its output, then a final summary. Used only when stdout is a terminal."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from msgspec import Struct, field

from engine.core.durations import format_seconds
from engine.run.events import Event
from engine.steps.base import Operator
from engine.ui.display import SYMBOLS, PlainLines, one_line, shown_data
from engine.ui.terminal_text import printable_line

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

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(printable_line(event.step_id or ""), shown_data(event.data))
        if event.kind in ("rollback_started", "run_finished"):
            text = self.lines.format(event)
            if text and event.kind == "run_finished":
                self.stop()
                self.console.print(text)

    def _on_run_started(self, step: str, data: dict[str, Any]) -> None:
        self.title = f"{data.get('playbook')} {data.get('version')} ({data.get('mode')})"
        self.rows = {sid: StepRow(sid) for sid in data.get("steps", [])}
        self.resume()

    def _row(self, step: str) -> StepRow:
        return self.rows.setdefault(step, StepRow(step))

    def _on_step_intent(self, step: str, data: dict[str, Any]) -> None:
        row = self._row(step)
        row.state, row.started, row.command = (
            "running",
            time.monotonic(),
            one_line(str(data.get("command")), 80),
        )

    def _on_output(self, step: str, data: dict[str, Any]) -> None:
        self._row(step).tail.append(str(data.get("line", ""))[:160])

    def _on_step_retry(self, step: str, data: dict[str, Any]) -> None:
        wait = format_seconds(float(data.get("delay", 0)))
        self._row(
            step
        ).note = f"attempt {data.get('attempt')} {data.get('status')}, retry in {wait}"

    def _on_step_result(self, step: str, data: dict[str, Any]) -> None:
        row = self._row(step)
        row.state, row.elapsed = str(data.get("status")), float(data.get("duration", 0))
        row.note = str(data.get("message") or "")

    def _on_step_skipped(self, step: str, data: dict[str, Any]) -> None:
        row = self._row(step)
        row.state, row.note = "skipped", str(data.get("reason", ""))

    def _on_sli_sample(self, step: str, data: dict[str, Any]) -> None:
        value = data.get("value")
        shown = f" {value:g}" if isinstance(value, int | float) else ""
        why = f" — {data['error']}" if data.get("error") else ""
        self.sli_line = f"SLI {data.get('phase')}: {data.get('verdict')}{shown}{why}"

    def _on_lock_waited(self, step: str, data: dict[str, Any]) -> None:
        self.sli_line = self.lines._on_lock_waited(step, data)  # under the table while waiting

    def _on_lock_taken(self, step: str, data: dict[str, Any]) -> None:
        self.sli_line = self.lines._on_lock_taken(step, data)

    def _on_undo_result(self, step: str, data: dict[str, Any]) -> None:
        row = self._row(step)
        ok = data.get("status") == "succeeded"
        row.state = "undone" if ok else row.state
        row.note = "undone" if ok else f"undo {data.get('status')}: {data.get('message', '')}"

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
