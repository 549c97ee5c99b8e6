"""The run loop: intent → execute → result for each step, undo in reverse on failure.

The runner knows nothing about any step type: it calls the registry's modules
through the StepType protocol, and emits events that the ledger and the
displays record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct, field

from engine import __version__
from engine.backends.local.containment import Containment, kill_leftovers
from engine.core.errors import LedgerError
from engine.core.events import (
    AwaitingOperator,
    ConfirmAnswer,
    EventKind,
    LeftoversKilled,
    LockLost,
    Output,
    RunFinished,
    RunStarted,
    SliSample,
    StepIntent,
    StepResultEvent,
    StepRetry,
    StepSkipped,
)
from engine.core.outcome import Outcome
from engine.core.resources import Resources
from engine.core.results import Status, StepResult
from engine.core.signals import AbortSignals
from engine.ledger import EventSpec, Ledger, RunInfo, host_name
from engine.model.playbook import Step
from engine.playbook.traits import capture_name, expectation, is_readonly, mitigates
from engine.run.events import EventBus, UnrecordedRun
from engine.run.execution import (
    RECOVERED_BEFORE,
    WHEN_FALSE,
    Completed,
    apply_step,
    run_mode,
    step_timeout,
    when_holds,
    with_retries,
)
from engine.run.plan import plan_action
from engine.run.preflight import Prepared
from engine.run.target_lock import TargetLock
from engine.run.undo import UndoRunner
from engine.sli.checker import PRE_CHECK, SliChecker, precheck_refusal
from engine.steps.base import Operator, StepContext
from engine.steps.registry import needs_human
from engine.templating.render import RenderError, TemplateRenderer
from engine.ui.operator import AbortRequested, SignalAwareOperator, operator_name, os_user

if TYPE_CHECKING:  # imported when a playbook has an SLI
    from engine.sli.checker import SliChecker
    from engine.sli.judge import Sample


class RunResult(Struct, frozen=True):
    """How a run ended: its id, outcome, message and each step's status."""

    run_id: str
    outcome: Outcome
    message: str = ""
    statuses: dict[str, str] = field(default_factory=dict)


class Run:
    """One execution of one prepared playbook."""

    def __init__(
        self, prepared: Prepared, run_id: str, bus: EventBus, ledger: Ledger, operator: Operator
    ) -> None:
        self.prepared = prepared
        self.playbook = prepared.playbook
        self.run_id = run_id
        self.bus = bus
        self.ledger = ledger
        self.operator = operator
        self.resources = Resources()
        self.containment = Containment.for_run(run_id)
        self.signals = AbortSignals()
        # Every question is asked so that Ctrl-C interrupts it (and aborts the run).
        self.operator = SignalAwareOperator(operator, self.signals)
        self.completed: list[Completed] = []
        self.compensation_failed = False
        self.statuses: dict[str, str] = {}
        self.guided = self.playbook.metadata.maturity == 1
        self.base_dir = Path(self.playbook.file).resolve().parent
        self.sli = self._sli_checker()
        request = prepared.request
        self.lock = TargetLock(
            ledger, bus, run_id, prepared.targets, request.wait_lock, request.lock_owner
        )

    @property
    def mode(self) -> str:
        return run_mode(self.prepared.mode, self.playbook.metadata.maturity)

    def execute(self) -> RunResult:
        """Run to an outcome; the ledger records every step of the way. Ctrl-C and
        SIGTERM are an abort from the first record to the last (also during the SLI
        pre-check and while waiting for a target lock), never a crash that leaves the
        run `running`. The targets are locked from before the SLI pre-check to the end."""
        with self.signals.installed():
            self._start()
            refusal = self.prepared.refusal or self._unreadable_ledger()
            if refusal:
                return self._finish(Outcome.REFUSED, refusal)
            blocked = self._lock()
            if blocked:
                return self._finish(self._blocked_outcome(), blocked)
            try:
                outcome, message = self._locked_run()
            finally:
                self.lock.release()
            return self._finish(outcome, message)

    def _locked_run(self) -> tuple[Outcome, str]:
        refusal = self._precheck_refusal()
        if refusal and not self.signals.aborted:
            return Outcome.REFUSED, refusal
        try:
            outcome, message = self._run_steps()  # aborted before step 1 if signalled
        except AbortRequested as exc:
            outcome, message = Outcome.ABORTED, str(exc)
        if self._needs_rollback(outcome):
            outcome = self._roll_back(outcome)
        self._close()
        return outcome, message

    def undo_earlier(
        self, pending: Callable[[], list[Completed]], nothing_left: Callable[[], str]
    ) -> RunResult:
        """A rollback run: undo steps an earlier run completed, in reverse order. What is
        left to undo is read (`pending`) once the targets are locked: a rollback that
        waited for another one finds nothing left and says so (`nothing_left`)."""
        with self.signals.installed():
            self._start()
            blocked = self._lock()
            if blocked:
                return self._finish(self._blocked_outcome(), blocked)
            try:
                self._kill_leftovers()
                outcome, message = self._undo_pending(pending(), nothing_left)
            finally:
                self.lock.release()
            return self._finish(outcome, message)

    def _undo_pending(
        self, completed: list[Completed], nothing_left: Callable[[], str]
    ) -> tuple[Outcome, str]:
        if not completed:
            return Outcome.COMPLETED, nothing_left()
        ok = self._undo_runner().undo_in_reverse(completed, guided=self.guided)
        self._close()
        if ok:
            return Outcome.COMPLETED, ""
        return Outcome.ROLLBACK_FAILED, "an undo failed: a human must look now"

    def _lock(self) -> str:
        """Take the targets ("" once held, else why not); templates read each lease's epoch
        as `run.locks[target]`, to hand a system that checks fencing tokens."""
        try:
            blocked = self.lock.acquire(self.signals.cancel)
        except LedgerError as exc:  # refused like a held target: the run still finishes
            return f"the targets cannot be locked: {exc.message}"
        if not blocked:
            variables = self.prepared.variables
            variables.run = {**variables.run, "locks": self.lock.epochs()}
        return blocked

    def _blocked_outcome(self) -> Outcome:
        return Outcome.ABORTED if self.signals.aborted else Outcome.REFUSED

    def _kill_leftovers(self) -> None:
        """What the earlier run's commands left running dies before anything is undone."""
        parent = self.prepared.parent_run
        killed = kill_leftovers(parent) if parent else 0
        if killed:
            self.bus.emit(LeftoversKilled(of_run=parent, processes=killed), self.run_id)

    def _close(self) -> None:
        self.resources.close_all()
        self.containment.close()

    def _start(self) -> None:
        request = self.prepared.request
        self.ledger.start_run(self._run_info())
        started = RunStarted(
            playbook=self.playbook.name,
            version=self.playbook.metadata.version,
            maturity=self.playbook.metadata.maturity,
            mode=self.mode,
            steps=[step.id for step in self.playbook.steps],
            approved_by=operator_name() if request.assume_yes else None,
            operator=request.operator or operator_name(),
            os_user=os_user(),
            parent_run=self.prepared.parent_run,
            source=self.prepared.source,
            trigger=request.trigger,
        )
        self.bus.emit(started, self.run_id)

    def _run_info(self) -> RunInfo:
        meta = self.playbook.metadata
        return RunInfo(
            run_id=self.run_id,
            playbook=meta.name,
            version=meta.version,
            content_hash=self.playbook.content_hash,
            file=str(Path(self.playbook.file).resolve()),
            mode=self.mode,
            inputs=self.prepared.redactor.redact_data(dict(self.prepared.variables.inputs)),
            operator=self.prepared.request.operator or operator_name(),
            host=host_name(),
            engine_version=__version__,
            started_at=time.time(),
            parent_run=self.prepared.parent_run,
            evidence_hash=self.playbook.evidence_hash or None,
            maturity=meta.maturity,
        )

    def _sli_checker(self) -> SliChecker | None:
        sli = self.playbook.sli
        if sli is None:
            return None

        variables = self.prepared.variables
        return SliChecker(
            sli,
            lambda: TemplateRenderer(variables.as_mapping()),
            dict(variables.secrets),
            self._on_sample,
            self.signals.cancel,
            self.resources,
            self.prepared.withheld_env,
        )

    def _on_sample(self, sample: Sample, phase: str) -> None:
        self.bus.emit(
            SliSample(
                phase=phase,
                verdict=str(sample.verdict),
                value=sample.value,
                error=sample.error,
                detail=sample.detail,
                sample_ts=sample.ts,
            ),
            self.run_id,
        )

    def _unreadable_ledger(self) -> str:
        """Why the ledger could not roll this run back, or "": no step runs then."""
        try:
            self.ledger.check_readable(self.run_id)
        except LedgerError as exc:
            return f"the ledger cannot be read back, so nothing could be rolled back: {exc}"
        return ""

    def _precheck_refusal(self) -> str:
        """Before step 1: a healthy (or unreadable) SLI means there is nothing to fix."""
        if self.sli is None or self.prepared.request.force:
            return ""

        return precheck_refusal(self.sli.sample(PRE_CHECK))

    def _needs_rollback(self, outcome: Outcome) -> bool:
        if outcome is Outcome.NOT_RECOVERED:
            sli = self.playbook.sli
            return sli is not None and sli.on_not_recovered == "rollback"
        return outcome in (Outcome.FAILED, Outcome.ABORTED)

    def _run_steps(self) -> tuple[Outcome, str]:
        started = time.monotonic()
        steps = self.playbook.steps
        for index, step in enumerate(steps):
            if self.signals.aborted:
                return Outcome.ABORTED, f"aborted by {self.signals.reason} before {step.id}"
            if self.lock.lost():
                return self._lock_lost(step)
            try:
                result = self._run_step(step)
            except LedgerError as exc:  # no side effect without its record: stop, undo
                self._skip(step, "the ledger cannot record its intent")
                return Outcome.FAILED, f"the ledger cannot record ({exc.message}): stopped"
            if result.status not in (Status.SUCCEEDED, Status.SKIPPED):
                return self._failure_outcome(step, result)
            if self._recovered_after(step, result, final=index == len(steps) - 1):
                self._skip_rest(steps[index + 1 :])
                took = time.monotonic() - started
                return Outcome.RECOVERED, f"the SLI recovered after {step.id} ({took:.1f}s)"
        return self._after_all_steps(steps[-1] if steps else None)

    def _lock_lost(self, step: Step) -> tuple[Outcome, str]:
        """Another run may act on the targets now: stop before `step`, and undo nothing
        (the undos would act on targets another run holds); `runbook rollback` does it
        under the lock later."""
        reason = self.lock.lost()
        self.bus.emit(LockLost(reason=reason), self.run_id, step.id)
        return Outcome.INTERRUPTED, (
            f"{reason}: stopped before {step.id}, nothing undone; "
            f"`runbook rollback {self.run_id}` undoes the completed steps once the lock is free"
        )

    def _recovered_after(self, step: Step, result: StepResult, final: bool) -> bool:
        if self.sli is None or result.status is not Status.SUCCEEDED or not mitigates(step):
            return False
        return self.sli.recovered_after(step.id, final)

    def _after_all_steps(self, last: Step | None) -> tuple[Outcome, str]:
        if self.sli is None:
            return Outcome.COMPLETED, ""
        if self.signals.aborted:
            return Outcome.ABORTED, f"aborted by {self.signals.reason}"
        if last is not None and not mitigates(last) and self.sli.recovered_after("all steps", True):
            return Outcome.RECOVERED, "the SLI recovered after all steps"
        return Outcome.NOT_RECOVERED, "all steps ran and the SLI is still not healthy: escalate"

    def _skip_rest(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            self._skip(step, RECOVERED_BEFORE)

    def _failure_outcome(self, step: Step, result: StepResult) -> tuple[Outcome, str]:
        # A group step that failed on one host undoes itself where it succeeded; when
        # that undo fails, the run cannot end better than `rollback_failed`.
        self.compensation_failed = result.compensation not in (None, Status.SUCCEEDED)
        if self.signals.aborted:
            return Outcome.ABORTED, f"aborted by {self.signals.reason} during {step.id}"
        return Outcome.FAILED, f"step {step.id} {result.status}: {result.message}".rstrip(": ")

    def _run_step(self, step: Step) -> StepResult:
        ctx = self._context(step, self.signals.cancel)
        try:
            if not when_holds(step, self.prepared.variables.as_mapping()):
                return self._skip(step, WHEN_FALSE)
            planned = self._planned_command(step, ctx)
            question = ctx.render.text(step.confirm) if step.confirm else ""
        except RenderError as exc:
            # A value only this run knows (a capture, a step result) does not fit the
            # template: the step fails before it starts and the run rolls back.
            return self._unrenderable(step, exc.message)
        if question and not self.guided:
            self._confirm(step, self.prepared.redactor.redact(question))
        self.bus.emit(StepIntent(command=planned, readonly=is_readonly(step)), self.run_id, step.id)
        if self.guided or needs_human(step.action.type):
            self._commit_deferred()  # a step that waits for a human is recorded before it
        attempts = with_retries(
            step.retry, lambda: self._attempt(step, ctx), ctx, self._on_retry(step)
        )
        self._commit_deferred()  # if the step type had no moment to say it started
        result = attempts.result
        self._record(step, result, attempts.count, attempts.duration)
        return result

    def _attempt(self, step: Step, ctx: StepContext) -> StepResult:
        try:
            if self.guided and not needs_human(step.action.type):
                return self._guided(step, ctx)
            return apply_step(step, ctx)  # a manual step asks the human itself
        except RenderError as exc:
            return StepResult(Status.FAILED, message=f"could not render: {exc.message}")

    def _guided(self, step: Step, ctx: StepContext) -> StepResult:
        """Level 1: show the rendered step; the human does it and says how it went."""
        command = self._planned_command(step, ctx)
        expect = expectation(step)
        with self.signals.prompting():
            answer, note = self.operator.checklist(step.label, command, expect)
        status = {"done": Status.SUCCEEDED, "skipped": Status.SKIPPED}.get(answer, Status.FAILED)
        return StepResult(status, message=note)

    def _planned_command(self, step: Step, ctx: StepContext) -> str:
        return plan_action(step.action, ctx).command

    def _confirm(self, step: Step, question: str) -> None:
        """Ask the rendered (and redacted) question of the step's confirm gate."""
        self.bus.emit(AwaitingOperator(question=question), self.run_id, step.id)
        with self.signals.prompting():
            approved = self.operator.confirm(question)
        who = operator_name()
        answer = ConfirmAnswer(approved=approved, by=who, os_user=os_user())
        self.bus.emit(answer, self.run_id, step.id)
        if not approved:
            raise AbortRequested(f"{who} declined the confirm gate of {step.id}")

    def _skip(self, step: Step, reason: str) -> StepResult:
        result = StepResult(Status.SKIPPED, message=reason)
        self.statuses[step.id] = str(Status.SKIPPED)
        self.bus.emit(StepSkipped(reason=reason), self.run_id, step.id)
        # Later steps may ask `steps.<id>.status`; a skipped step has no capture.
        self.prepared.variables.record(step.id, None, result)
        return result

    def _unrenderable(self, step: Step, problem: str) -> StepResult:
        """The step failed before it started: no intent, nothing of it to undo."""
        result = StepResult(Status.FAILED, message=f"could not render: {problem}")
        self.statuses[step.id] = str(result.status)
        unrendered = StepResultEvent(
            status=str(result.status),
            exit_code=None,
            message=result.message,
            attempts=0,
            duration=0.0,
        )
        self.bus.emit(unrendered, self.run_id, step.id)
        self.prepared.variables.record(step.id, None, result)
        return result

    def _on_retry(self, step: Step):  # type: ignore[no-untyped-def]
        def emit(attempt: int, result: StepResult, delay: float) -> None:
            retry = StepRetry(
                attempt=attempt,
                attempts=step.retry.attempts,
                status=str(result.status),
                message=result.message,
                delay=round(delay, 3),
            )
            self.bus.emit(retry, self.run_id, step.id)

        return emit

    def _record(self, step: Step, result: StepResult, attempts: int, duration: float) -> None:
        self.statuses[step.id] = str(result.status)
        self.prepared.variables.record(step.id, capture_name(step), result)
        if result.status is not Status.SKIPPED and not is_readonly(step):
            # Known to need its undo before the ledger is asked to record it (it may fail).
            self.completed.append(Completed(step, result.status, result.captured))
        ended = StepResultEvent(
            status=str(result.status),
            exit_code=result.exit_code,
            message=result.message,
            output=result.output,
            value=result.value,
            captured=dict(result.captured),
            attempts=attempts,
            duration=round(duration, 6),
        )
        self.bus.emit(ended, self.run_id, step.id)

    def _context(self, step: Step, cancel: threading.Event) -> StepContext:
        return StepContext(
            step_id=step.id,
            # The run's redactor knows the same secrets: not rebuilt for every step.
            render=TemplateRenderer(
                self.prepared.variables.as_mapping(), redactor=self.prepared.redactor
            ),
            operator=self.operator,
            resources=self.resources,
            base_dir=self.base_dir,
            timeout=step_timeout(step),
            on_output=lambda line: self.bus.transient(Output(line=line), self.run_id, step.id),
            on_started=self._commit_deferred,
            cancel=cancel,
            inventory=self.prepared.request.inventory,
            step=step,
            containment=self.containment,
            withheld_env=self.prepared.withheld_env,
        )

    def _commit_deferred(self) -> None:
        """The intent of a read-only step is committed once its command runs (events.py)."""
        if self.bus.ledger is not None:
            self.bus.ledger.commit_deferred()

    def _roll_back(self, outcome: Outcome) -> Outcome:
        ok = self._undo_runner().undo_in_reverse(self.completed, guided=self.guided)
        return outcome if ok and not self.compensation_failed else Outcome.ROLLBACK_FAILED

    def _undo_runner(self) -> UndoRunner:
        return UndoRunner(self.run_id, self.bus, self.signals, self._context, self.operator)

    def _finish(self, outcome: Outcome, message: str) -> RunResult:
        summary = {"message": message, "steps": self.statuses}
        self.bus.emit(RunFinished(outcome=outcome, message=message), self.run_id)
        try:
            self.ledger.finish_run(
                self.run_id, str(outcome), self.prepared.redactor.redact_data(summary)
            )
        except LedgerError as exc:
            raise UnrecordedRun(self.run_id, self._unrecorded(), self._undone(), exc) from None
        if self._unrecorded():
            raise UnrecordedRun(self.run_id, self._unrecorded(), self._undone(), None)
        return RunResult(self.run_id, outcome, message, dict(self.statuses))

    def _unrecorded(self) -> list[EventSpec]:
        return list(self.bus.ledger.pending) if self.bus.ledger is not None else []

    def _undone(self) -> list[str]:
        undone = [e for e in self._unrecorded() if e[0] == EventKind.UNDO_RESULT]
        return [str(step) for kind, step, data in undone if data.get("status") == "succeeded"]
