"""`runbook rollback RUN_ID`: show the undo plan, ask, then undo.

The plan (which steps would be undone, in that order, with their rendered undo commands,
secrets redacted) is shown before anything runs. At a terminal the operator confirms
it (`--yes` skips the question); without one, `--yes` is required; `--dry-run` only shows.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from msgspec import Struct
from msgspec.structs import asdict, replace

from engine.core.errors import ExitCode, RefusedError
from engine.core.events import Listener
from engine.core.resources import Resources
from engine.modes.locks import nothing_done
from engine.modes.rollback.undo_run import (
    RollbackPlan,
    execute_rollback,
    planned_rollback,
    require_undo_secrets,
)
from engine.run.execution import Completed
from engine.run.plan import describe_undo, secret_lines, secrets_json
from engine.run.preflight import RunRequest
from engine.run.runner import RunResult
from engine.run.undo import NOT_SAFE_AFTER_PARTIAL_RUN
from engine.steps.base import StepContext
from engine.templating.render import RenderError, TemplateRenderer
from engine.ui.operator import HeadlessOperator

Confirm = Callable[[str], bool]


class PlannedUndo(Struct, frozen=True):
    """One step of an undo plan, in the order the undos run."""

    step: str
    title: str
    ended: str  # how the step ended in the run: succeeded, or unknown (interrupted)
    undone: bool  # False: in flight when the run died, and its undo is not safe then
    undo: str  # the rendered undo command, or why it is not undone


def rollback(
    run_id: str,
    request: RunRequest,
    listeners: Sequence[Listener],
    output: str,
    dry_run: bool,
    confirm: Confirm,
) -> int:
    """Show the plan, then undo if allowed: the exit code (0 for a dry run)."""
    with planned_rollback(run_id, request) as plan:
        steps = undo_plan(plan)
        if not steps:  # nothing is recorded then: the result only says why
            return _done(execute_rollback(plan, listeners), output)
        _say(render_json(plan, steps) if output == "json" else render_text(plan, steps))
        count = sum(step.undone for step in steps)
        if not count:  # only skips: a rollback run would record nothing undone
            _say(nothing_done(_only_unsafe_left(plan, steps), output))
            return int(ExitCode.OK)
        if dry_run:
            return int(ExitCode.OK)
        require_undo_secrets(plan)  # before the question: the answer could not be carried out
        if not _approved(plan, count, request, confirm):
            print("rollback not confirmed: nothing undone", file=sys.stderr)
            return int(ExitCode.ABORTED)
        # Another rollback may have undone it all while this one waited for the lock.
        return _done(execute_rollback(plan, listeners), output)


def _only_unsafe_left(plan: RollbackPlan, steps: Sequence[PlannedUndo]) -> str:
    """What a rollback says when every step left may have half-run and has no safe undo."""
    ids = ", ".join(step.step for step in steps)
    return (
        f"nothing to undo: run {plan.run_id} left only {ids}, which may have half-run: "
        f"{NOT_SAFE_AFTER_PARTIAL_RUN}"
    )


def _done(result: RunResult, output: str) -> int:
    if not result.run_id:
        _say(nothing_done(result.message, output))
    return int(result.outcome.exit_code)


def _approved(plan: RollbackPlan, count: int, request: RunRequest, confirm: Confirm) -> bool:
    if request.assume_yes:
        return True
    if not request.interactive:
        raise RefusedError(
            f"no terminal to confirm the undo plan of run {plan.run_id}",
            "pass --yes to undo without asking (scripts), or --dry-run to only see the plan",
        )
    return confirm(f"undo these {count} step(s) of run {plan.run_id}?")


def undo_plan(plan: RollbackPlan) -> list[PlannedUndo]:
    """The plan's steps in the order they are undone, each undo rendered and redacted."""
    ctx = _plan_context(plan)
    redact = plan.prepared.redactor.redact
    return [_planned(item, ctx, redact) for item in reversed(plan.completed)]


def _planned(item: Completed, shared: StepContext, redact: Callable[[str], str]) -> PlannedUndo:
    step = item.step
    if not item.needs_undo:
        undo = f"not undone: the step ended {item.status}; {NOT_SAFE_AFTER_PARTIAL_RUN}"
    else:
        try:
            undo = describe_undo(step, replace(shared, step_id=step.id))
        except RenderError as exc:
            undo = f"cannot be rendered yet ({exc.message})"
    return PlannedUndo(step.id, step.title, str(item.status), item.needs_undo, redact(undo))


def _plan_context(plan: RollbackPlan) -> StepContext:
    """The context the undos would render in, with nobody to ask and nothing connected."""

    prepared = plan.prepared
    variables = prepared.variables.as_mapping()
    return StepContext(
        step_id="",
        render=TemplateRenderer(variables, redactor=prepared.redactor),
        operator=HeadlessOperator(assume_yes=False),
        resources=Resources(),
        base_dir=Path(prepared.playbook.file).resolve().parent,
        cancel=threading.Event(),
        inventory=prepared.request.inventory,
    )


def render_text(plan: RollbackPlan, steps: Sequence[PlannedUndo]) -> str:
    """The undos in their order, then the secrets they read (as `runbook plan` lists a
    run's), each set or not."""
    head = f"undo plan of run {plan.run_id} ({plan.prepared.playbook.name}):"
    if not steps:
        return f"{head} nothing to undo"
    lines = [
        f"  {i}. {s.step} ({s.ended}): " + s.undo.replace("\n", "\n       ")  # values, script
        for i, s in enumerate(steps, 1)
    ]
    lines += secret_lines(plan.prepared.secrets, "a live rollback", "runbook rollback")
    return "\n".join([head, *lines])


def render_json(plan: RollbackPlan, steps: Sequence[PlannedUndo]) -> str:
    record = {
        "kind": "undo_plan",
        "run_id": plan.run_id,
        "steps": [asdict(s) for s in steps],
        "secrets": secrets_json(plan.prepared.secrets),
    }
    return json.dumps(record)


def _say(text: str) -> None:
    print(text, flush=True)  # before the undos' lines, which a display writes
