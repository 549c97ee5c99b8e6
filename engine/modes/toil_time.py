"""The time humans spent on one run, read from its events (`runbook toil`).

Counted, from the time each event was recorded:

- **steps**: a step a human does, from its `step_intent` (recorded just before the step
  is shown) to its `step_result` (the answer); the same for an undo a human does, from
  `undo_intent` to `undo_result`. At level 1 every step and undo is done by a human (the
  checklist); at level 2 only those whose step type needs a human (`manual`). The wait
  between two attempts of a retried step is the engine's, and is left out.
- **confirm**: each confirm gate, from the question (`awaiting_operator`) to the answer
  (`confirm_answer`).

Nothing else counts: what the engine runs, SLI checks, lock waits, and a question never
answered (the run was interrupted). Times come from the wall clock: a span it stepped back
across counts as nothing, never as less than nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from engine.core.errors import EngineError
from engine.core.events import EventKind, RunStarted
from engine.ledger import EventRow, RunRow
from engine.playbook.compiled import load_checked
from engine.playbook.traits import undo_needs_hands
from engine.steps.registry import needs_human

# What an event's kind opens or closes: a step's or an undo's time, or a confirm gate's.
_OPENS: dict[str, str] = {EventKind.STEP_INTENT: "step", EventKind.UNDO_INTENT: "undo"}
_CLOSES: dict[str, str] = {EventKind.STEP_RESULT: "step", EventKind.UNDO_RESULT: "undo"}
_GATE = (EventKind.AWAITING_OPERATOR, EventKind.CONFIRM_ANSWER)


@dataclass
class HumanTime:
    """Seconds humans spent: doing steps (and undos), and answering confirm gates."""

    steps: float = 0.0
    confirm: float = 0.0

    @property
    def total(self) -> float:
        return self.steps + self.confirm

    def add(self, other: HumanTime) -> None:
        self.steps += other.steps
        self.confirm += other.confirm


@dataclass(frozen=True)
class Hands:
    """The ids of the steps, and of the undos, a human does in a run."""

    every_step: bool  # level 1: the checklist
    steps: frozenset[str] = frozenset()
    undos: frozenset[str] = frozenset()

    def does(self, what: str, step_id: str | None) -> bool:
        if self.every_step:
            return True
        return step_id in (self.steps if what == "step" else self.undos)


def human_time(started: RunStarted, row: RunRow, events: list[EventRow]) -> HumanTime:
    """The human time of one run (see the module's docstring for what counts)."""
    hands = hands_of(started, row)
    spent = HumanTime()
    opened: dict[tuple[str, str | None], float] = {}
    for event in events:
        key = (_what(event.kind), event.step_id)
        if event.kind in _OPENS and hands.does(key[0], event.step_id):
            opened[key] = event.ts
        elif event.kind == EventKind.STEP_RETRY and key in opened:
            spent.steps += max(0.0, event.ts - opened[key])  # up to the wait before a retry
            opened[key] = event.ts + float(event.data.get("delay", 0.0))
        elif event.kind in _CLOSES and key in opened:
            spent.steps += max(0.0, event.ts - opened.pop(key))
        elif event.kind == EventKind.AWAITING_OPERATOR:
            opened[key] = event.ts
        elif event.kind == EventKind.CONFIRM_ANSWER and key in opened:
            spent.confirm += max(0.0, event.ts - opened.pop(key))
    return spent


def _what(kind: str) -> str:
    if kind in _GATE:
        return "confirm"
    return _OPENS.get(kind) or _CLOSES.get(kind) or "step"  # a retry is a step's


def hands_of(started: RunStarted, row: RunRow) -> Hands:
    """Which steps of the run a human does: all of them at level 1; at level 2 those
    whose step type, or whose undo's, needs a human, read from the playbook text the run
    recorded (none when that text cannot be read back)."""
    if started.maturity == 1:
        return Hands(every_step=True)
    return _recorded_hands(row.playbook, started.source)


@lru_cache(maxsize=64)  # the runs of one content read it once
def _recorded_hands(name: str, source: str) -> Hands:
    try:
        playbook = load_checked(f"{name}.yaml", source)
    except EngineError:
        return Hands(every_step=False)
    steps = frozenset(s.id for s in playbook.steps if needs_human(s.action.type))
    undos = frozenset(s.id for s in playbook.steps if undo_needs_hands(s))
    return Hands(every_step=False, steps=steps, undos=undos)
