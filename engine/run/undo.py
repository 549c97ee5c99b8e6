"""Undo completed steps in reverse order; a failed undo does not stop the others."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from engine.core.errors import EngineError
from engine.core.events import (
    RollbackFinished,
    RollbackStarted,
    UndoIntent,
    UndoResultEvent,
    UndoSkipped,
)
from engine.core.results import Status, StepResult
from engine.core.signals import AbortSignals
from engine.model.playbook import Step
from engine.run.events import EventBus
from engine.run.execution import Completed, undo_step
from engine.run.plan import describe_undo
from engine.steps.base import Operator, StepContext
from engine.templating.render import RenderError
from engine.ui.operator import AbortRequested

ContextFactory = Callable[[Step, threading.Event], StepContext]
# Why the undo of a step that may have half-run is skipped, and the setting that allows it.
NOT_SAFE_AFTER_PARTIAL_RUN = (
    "its undo is not safe after a partial run (`undo_if_interrupted: true` on the step says it is)"
)


class UndoRunner:
    def __init__(
        self,
        run_id: str,
        bus: EventBus,
        signals: AbortSignals,
        context: ContextFactory,
        operator: Operator,
    ) -> None:
        self.run_id = run_id
        self.bus = bus
        self.signals = signals
        self.context = context
        self.operator = operator
        # Undo commands are not cancelled by the abort that started the rollback.
        self.cancel = threading.Event()

    def undo_in_reverse(self, completed: Sequence[Completed], guided: bool = False) -> bool:
        """True when every needed undo succeeded (or was skipped with a reason)."""
        self.bus.emit(RollbackStarted(steps=[c.step.id for c in completed]), self.run_id)
        failures = [c.step.id for c in reversed(completed) if not self._undo_one(c, guided)]
        self.bus.emit(RollbackFinished(ok=not failures, failed=failures), self.run_id)
        return not failures

    def _undo_one(self, item: Completed, guided: bool) -> bool:
        step = item.step
        if not item.needs_undo:
            reason = f"step ended {item.status}; {NOT_SAFE_AFTER_PARTIAL_RUN}"
            self.bus.emit(UndoSkipped(reason=reason), self.run_id, step.id)
            return True
        ctx = self.context(step, self.cancel)
        self.bus.emit(UndoIntent(of_status=str(item.status)), self.run_id, step.id)
        try:
            result = self._guided(step, ctx) if guided else self._apply(step, item, ctx)
        except (AbortRequested, EngineError) as exc:
            # The operator stopped this undo (Ctrl-C at its prompt), or nobody can do it
            # here: it did not happen, and the other undos still run.
            message = exc.message if isinstance(exc, EngineError) else str(exc)
            result = StepResult(Status.FAILED, message=f"undo not done: {message}")
        ended = UndoResultEvent(
            status=str(result.status),
            exit_code=result.exit_code,
            message=result.message,
            output=result.output,
        )
        self.bus.emit(ended, self.run_id, step.id)
        return result.status in (Status.SUCCEEDED, Status.SKIPPED)

    def _apply(self, step: Step, item: Completed, ctx: StepContext) -> StepResult:
        try:
            return undo_step(step, item.captured, ctx)
        except RenderError as exc:
            return StepResult(Status.FAILED, message=f"could not render the undo: {exc.message}")

    def _guided(self, step: Step, ctx: StepContext) -> StepResult:
        what = describe_undo(step, ctx)
        answer, note = self.operator.checklist(f"undo {step.label}", what, "")
        status = Status.SUCCEEDED if answer in ("done", "skipped") else Status.FAILED
        return StepResult(status, message=note)
