"""What a tabletop shows: every step rendered as `runbook plan` renders it (with its undo,
what it would change, its confirm gate and `when:`), the SLI and the drill described.

Nothing is read from outside the playbook and its inputs: no SLI probe, no precondition
command, no connection, and no secret source either; a secret is shown as a placeholder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from msgspec import Struct, field
from msgspec.structs import replace

from engine.core.durations import format_seconds
from engine.core.findings import Location
from engine.model.playbook import DEFAULT_DETECT_WITHIN, Action, Drill, Playbook, Sli, Step
from engine.playbook.compiled import load_checked
from engine.playbook.inputs import bind_inputs
from engine.playbook.trust import check_playbook_owner
from engine.run.context.variables import base_variables
from engine.run.plan import PlannedStep, PlanRenderer, build_plan, plan_context, plan_variables
from engine.run.preflight import read_source, refuse_reused_version
from engine.steps.base import Detail, StepContext
from engine.steps.registry import playbook_hooks, step_type
from engine.templating.render import RenderError

MODE = "tabletop"
T = TypeVar("T")


class WalkedStep(Struct, frozen=True):
    """One step as the participants see it: the plan's rendering, and what the plan does
    not say (its description rendered, the reason it cannot be undone, and the details
    of the step and of its undo: a human's whole instructions, what a command or request
    would be sent)."""

    planned: PlannedStep
    description: str = ""
    irreversible: str = ""
    details: list[Detail] = field(default_factory=list)
    undo_details: list[Detail] = field(default_factory=list)


class Walk(Struct, frozen=True):
    """A playbook ready to be walked through: its steps rendered, its SLI and drill told."""

    playbook: Playbook
    source: str
    inputs: dict[str, Any]
    steps: list[WalkedStep]
    sli: str
    drill: list[str]
    secrets: list[str]


def unread_secret(name: str) -> str:
    """What a tabletop renders in place of a secret: it never reads one."""
    return f"«secret:{name}»"


def prepare_walk(
    file: str, given: Mapping[str, str], home: Path | None, environ: Mapping[str, str] | None
) -> Walk:
    """The playbook of `file` loaded, checked and rendered with the inputs `given`
    (EngineError, exit 2, for a playbook or inputs that do not pass, a template that does
    not render, or a version the ledger recorded with other content)."""
    check_playbook_owner(file, executes=False)
    source = read_source(file)
    playbook = load_checked(file, source)
    refuse_reused_version(playbook, home)  # a tabletop is evidence of this content
    inputs = bind_inputs(playbook.inputs, given)
    secrets = {name: unread_secret(name) for name in playbook.secrets}
    variables = base_variables(playbook, inputs, secrets, "tabletop", MODE)
    env = os.environ if environ is None else environ
    for hook in playbook_hooks().values():  # e.g. the playbook's `kubernetes:` block
        variables.playbook = {**variables.playbook, **hook.run_variables(playbook, env)}
    rendering = plan_variables(variables)
    planned = build_plan(playbook, rendering)
    ctx = plan_context(playbook, PlanRenderer(rendering))
    return Walk(
        playbook=playbook,
        source=source,
        inputs=dict(inputs),
        steps=[
            _walked(step, plan, ctx) for step, plan in zip(playbook.steps, planned, strict=True)
        ],
        sli=sli_text(playbook.sli),
        drill=drill_lines(playbook, playbook.drill, rendering),
        secrets=list(playbook.secrets),
    )


def _walked(step: Step, planned: PlannedStep, shared: StepContext) -> WalkedStep:
    ctx = replace(shared, step_id=step.id)
    return WalkedStep(
        planned,
        description=_rendered(step, step.location, lambda: ctx.render.text(step.description)),
        irreversible=step.irreversible or "",
        details=_details(step, step.action, ctx),
        undo_details=_details(step, step.undo, ctx) if step.undo is not None else [],
    )


def _details(step: Step, action: Action, ctx: StepContext) -> list[Detail]:
    return _rendered(
        step, action.location, lambda: step_type(action.type).details(action.spec, ctx)
    )


def _rendered(step: Step, where: Location, render: Callable[[], T]) -> T:
    """`render()`; a template that cannot render names the step and its place (exit 2)."""
    try:
        return render()
    except RenderError as exc:
        message = f"step '{step.id}': {exc.message}"
        raise RenderError(message, exc.hint, exc.location or where) from None


def sli_text(sli: Sli | None) -> str:
    """The SLI as the participants are told it (it is not read)."""
    if sli is None:
        return "none: the playbook declares no SLI, a run would not check recovery"
    healthy = f", healthy when {sli.healthy}" if sli.healthy else ""
    timing = (
        f"settle {format_seconds(sli.settle)}, {sli.samples} sample(s) every"
        f" {format_seconds(sli.interval)}, give up after {format_seconds(sli.timeout)}"
    )
    return f"{sli.probe.type} probe{healthy}; {timing}; when not recovered: {sli.on_not_recovered}"


def drill_lines(playbook: Playbook, drill: Drill | None, rendering: Mapping[str, Any]) -> list[str]:
    """The drill's inject and revert steps rendered, and its limits (none: no drill)."""
    if drill is None:
        return []
    detect = format_seconds(drill.detect_within or DEFAULT_DETECT_WITHIN)
    lines = [f"detect within {detect}"]
    if drill.recover_within:
        lines[0] += f", recover within {format_seconds(drill.recover_within)}"
    ctx = plan_context(playbook, PlanRenderer(rendering))
    for label, steps in (("inject", drill.inject), ("revert", drill.revert)):
        for step, planned in zip(steps, build_plan(playbook, rendering, steps), strict=True):
            lines.append(f"{label} {planned.id}: {planned.command.strip()}")
            lines += _detail_lines(_details(step, step.action, replace(ctx, step_id=step.id)))
            if label == "inject":
                lines.append(f"  taken out by: {planned.undo.strip()}")
    if not drill.revert:
        lines.append("revert: the undos of the inject steps")
    return lines


def _detail_lines(details: list[Detail]) -> list[str]:
    """A drill step's details, one line each, under the step's line."""
    lines = []
    for detail in details:
        first, *rest = detail.text.strip().splitlines() or [""]
        lines.append(f"  {detail.label}: {first}")
        lines += [f"    {line}" for line in rest]
    return lines
