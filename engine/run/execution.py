"""Run one action with its deadline and retries; undo one completed step."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from msgspec import Struct, field

from engine.core.results import Status, StepResult
from engine.model.playbook import Retry, Step
from engine.playbook.traits import undoes_itself
from engine.steps.base import StepContext
from engine.steps.registry import step_type
from engine.templating.render import evaluate_condition

# Why a step was skipped, as the ledger records it (and `runbook replay` reads it back).
WHEN_FALSE = "`when` is false"
RECOVERED_BEFORE = "the SLI recovered before this step"
# The modes a run keeps whatever its playbook's level; the others follow the level.
OWN_MODES = ("rollback", "drill", "hook")


def run_mode(requested: str, maturity: int) -> str:
    """The mode a run of a playbook at level `maturity` is recorded with: a rollback, a
    drill's part or an alert's run keeps its own; otherwise level 1 is guided."""
    if requested in OWN_MODES:
        return requested
    return "guided" if maturity == 1 else "live"


def when_holds(step: Step, variables: Mapping[str, Any]) -> bool:
    """Whether `step` runs: it has no `when:`, or its condition is true of the run's
    variables (RenderError when the condition cannot be evaluated with them)."""
    return not step.when or evaluate_condition(step.when, variables)


class Attempts(Struct):
    """The result of the last attempt and how many were made."""

    result: StepResult
    count: int
    started: float
    finished: float = 0.0

    @property
    def duration(self) -> float:
        return self.finished - self.started


def backoff_delay(retry: Retry, attempt: int, rng: random.Random | None = None) -> float:
    """Delay before attempt `attempt + 1`: exponential, capped, with equal jitter."""
    delay = float(min(retry.max_backoff, retry.backoff * (2 ** (attempt - 1))))
    if not retry.jitter:
        return delay
    if rng is None:
        return delay / 2 + random.uniform(0, delay / 2)
    return delay / 2 + float(rng.uniform(0, delay / 2))


def with_retries(
    retry: Retry,
    attempt: Callable[[], StepResult],
    ctx: StepContext,
    on_retry: Callable[[int, StepResult, float], None],
) -> Attempts:
    """Call `attempt` until it succeeds, is skipped, is cancelled or attempts run out."""
    started = time.monotonic()
    attempts = Attempts(attempt(), 1, started)
    while _should_retry(attempts, retry, ctx):
        delay = backoff_delay(retry, attempts.count)
        on_retry(attempts.count, attempts.result, delay)
        if ctx.cancel.wait(delay):
            break
        attempts.result = attempt()
        attempts.count += 1
    attempts.finished = time.monotonic()
    return attempts


def _should_retry(attempts: Attempts, retry: Retry, ctx: StepContext) -> bool:
    retryable = attempts.result.status in (Status.FAILED, Status.TIMED_OUT)
    return retryable and attempts.count < retry.attempts and not ctx.cancel.is_set()


def apply_step(step: Step, ctx: StepContext) -> StepResult:
    return step_type(step.action.type).apply(step.action.spec, ctx)


def undo_step(step: Step, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    """Run the declared undo, or the undo the step type captured; SKIPPED when none."""
    if step.undo is not None:
        return step_type(step.undo.type).apply(step.undo.spec, ctx)
    if undoes_itself(step):
        return step_type(step.action.type).undo(step.action.spec, captured, ctx)
    reason = f"irreversible: {step.irreversible}" if step.irreversible else "nothing to undo"
    return StepResult(Status.SKIPPED, message=reason)


def step_timeout(step: Step) -> float | None:
    """The step's `timeout:`, else its type's default (None: no deadline)."""
    if step.timeout is not None:
        return step.timeout
    return step_type(step.action.type).default_timeout


class Completed(Struct):
    """A step that ran (or may have run) and what its undo needs."""

    step: Step
    status: Status
    captured: Mapping[str, Any] = field(default_factory=dict)

    @property
    def needs_undo(self) -> bool:
        """Succeeded steps are undone; a step that may have half-run only if its
        author said its undo is safe then (`undo_if_interrupted`)."""
        return self.status is Status.SUCCEEDED or self.step.undo_if_interrupted
