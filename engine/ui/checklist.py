"""The level-1 checklist at a terminal: each step comes up once, the human does it and
answers, and the answer stays on the step's line; a line of progress (step k of n, the
time elapsed) before each step and a tally before the outcome. Nothing is redrawn and
nothing ticks while the human reads and answers. Used when stdout is a terminal and the
playbook is at level 1; the live table (`engine.ui.live`) shows every other run."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from engine.core.durations import format_seconds
from engine.core.events import (
    Event,
    EventKind,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepIntent,
    StepResultEvent,
    StepSkipped,
)
from engine.ui.display import PLAIN_IGNORED, SYMBOLS, PlainLines, PromptLines, on, shown_step
from engine.ui.terminal_text import printable_line

# What the human answered, by the status the answer gave the step.
ANSWER_OF_STATUS = {"succeeded": "done", "failed": "failed", "skipped": "skipped"}
# The kinds the checklist does not show: those plain lines do not.
CHECKLIST_IGNORED = PLAIN_IGNORED


class ChecklistLines:
    """A listener that writes the checklist line by line, as plain lines do for a pipe,
    with the step's title and the human's answer in place of the command and status."""

    def __init__(self, lines: PromptLines | None = None) -> None:
        self.plain = PlainLines(lines)
        self.lines = self.plain.lines
        self.started = time.monotonic()
        self.steps: list[str] = []
        self.titles: dict[str, str] = {}  # step id -> the title the human was shown
        self.current = ""  # the step that comes up now: the next question is its
        self.answers: Counter[str] = Counter()
        self.begun: set[str] = set()  # the steps that came up
        self.ended: set[str] = set()  # the steps answered (or skipped by their `when`)
        self.handlers: dict[EventKind, Callable[[Event], str]] = {
            **self.plain.handlers,
            **dict(
                [
                    on(RunStarted, self._on_run_started),
                    on(StepIntent, self._on_step_intent),
                    on(StepResultEvent, self._on_step_result),
                    on(StepSkipped, self._on_step_skipped),
                    on(RollbackStarted, self._on_rollback_started),
                    on(RunFinished, self._on_run_finished),
                ]
            ),
        }

    def __call__(self, event: Event) -> None:
        handler = self.handlers.get(event.kind)
        line = handler(event) if handler is not None else ""
        if line:
            self.lines.write(line + "\n")
        if event.kind == EventKind.RUN_FINISHED:
            self.lines.flush()

    def asking(self, title: str | None) -> None:
        """A question is asked now: the first checklist `title` of the current step names
        it (a retry asks again under the same title; a confirm gate has none)."""
        if self.current and title is not None:
            self.titles.setdefault(self.current, printable_line(title))

    def answered(self) -> None:
        """The answer is in: its line comes with the step's result."""

    def _on_run_started(self, event: Event, run: RunStarted) -> str:
        self.started = time.monotonic()
        self.steps = [] if run.mode == "rollback" else list(run.steps)  # undos only
        count = len(self.steps)
        what = f"{_steps(count)} to do by hand" if count else "each undo by hand"
        return (
            f"{self.plain.format(event)}: {what}\n"
            "after each, answer d (done), f (failed) or s (skipped), and a note if you like"
        )

    def _on_step_intent(self, event: Event, intent: StepIntent) -> str:
        self.current = shown_step(event)
        self.begun.add(self.current)
        return f"\n{self._position(self.current)} · {self._elapsed()} elapsed"

    def _on_step_result(self, event: Event, result: StepResultEvent) -> str:
        step = shown_step(event)
        self.current = ""
        self.ended.add(step)
        answer = ANSWER_OF_STATUS.get(result.status, result.status)
        self.answers[answer] += 1
        took = format_seconds(float(result.duration))
        note = f" — {result.message}" if result.message else ""
        symbol = SYMBOLS.get(result.status, "?")
        return f"{symbol} {self._named(step)}: {answer} in {took}{note}"

    def _on_step_skipped(self, event: Event, skipped: StepSkipped) -> str:
        step = shown_step(event)
        self.ended.add(step)
        self.answers["skipped"] += 1
        return f"\n- {self._position(step)}: skipped ({skipped.reason})"

    def _on_rollback_started(self, event: Event, started: RollbackStarted) -> str:
        said = self.plain.format(event)
        return f"\n{said}" if said else ""  # nothing to undo: nothing to announce

    def _on_run_finished(self, event: Event, finished: RunFinished) -> str:
        outcome = f"\n{self.plain.format(event)}"
        if not self.steps:
            return outcome
        tally = [f"{count} {answer}" for answer, count in self.answers.items()]
        interrupted = len(self.begun - self.ended)  # asked, never answered (an abort)
        if interrupted:
            tally.append(f"{interrupted} interrupted")
        unreached = len(self.steps) - len(self.begun | self.ended)
        if unreached:
            tally.append(f"{unreached} not reached")
        return f"\n{_steps(len(self.steps))}: {', '.join(tally)}, in {self._elapsed()}{outcome}"

    def _position(self, step: str) -> str:
        """`step 2 of 5 (id)`: where the step is in the playbook."""
        index = self.steps.index(step) + 1 if step in self.steps else len(self.steps)
        return f"step {index} of {len(self.steps)} ({step})"

    def _named(self, step: str) -> str:
        title = self.titles.get(step)
        return f"{title} ({step})" if title and title != step else step

    def _elapsed(self) -> str:
        return format_seconds(time.monotonic() - self.started)


def _steps(count: int) -> str:
    return f"{count} step{'' if count == 1 else 's'}"
