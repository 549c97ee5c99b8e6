"""Dry-run: render every step and its undo, say what each would do, change nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from msgspec import Struct
from msgspec.structs import asdict, replace

from engine.core.findings import Location
from engine.core.resources import Resources
from engine.core.results import Planned, Verdict
from engine.model.playbook import Action, Playbook, Step
from engine.playbook.traits import is_readonly, undoes_itself
from engine.run.context.secrets import SecretStatus
from engine.run.context.variables import PlaceholderNamespace, RunVariables, UnknownUntilRun
from engine.sli.judge import Sample, SliVerdict
from engine.steps.base import StepContext
from engine.steps.registry import is_available, step_type
from engine.templating.render import RenderError, TemplateRenderer, evaluate_condition
from engine.ui.operator import HeadlessOperator

T = TypeVar("T")


class PlannedStep(Struct, frozen=True):
    """One step of a plan: its rendered command and undo, and the verdict."""

    index: int
    id: str
    title: str
    type: str
    command: str
    undo: str
    readonly: bool
    verdict: str
    note: str = ""
    confirm: str = ""
    when: str = ""


def plan_variables(variables: RunVariables) -> dict[str, Any]:
    """Run variables where captures and step results are placeholders."""
    mapping = variables.as_mapping()
    mapping["captures"] = PlaceholderNamespace("captures", variables.captures)
    mapping["steps"] = PlaceholderNamespace("steps", variables.steps)
    # each target's lease epoch, known once the run holds its targets
    mapping["run"] = {"locks": PlaceholderNamespace("run.locks"), **variables.run}
    return mapping


class PlanRenderer(TemplateRenderer):
    """Renders for a plan: a template that needs a value only the run will know (it
    computes with a capture or a step's output) is shown as written, and noted."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        super().__init__(variables)
        self.unknown: list[str] = []

    def _render(self, kind: str, template: str) -> str:
        try:
            return super()._render(kind, template)
        except UnknownUntilRun as exc:
            self.unknown.append(str(exc.args[0]))
            return template


def build_plan(
    playbook: Playbook, variables: Mapping[str, Any], steps: Sequence[Step] | None = None
) -> list[PlannedStep]:
    """Render every step (RenderError for a broken template, before anything runs)."""
    renderer = PlanRenderer(variables)
    chosen = playbook.steps if steps is None else steps
    # One context, copied with each step's id: a run plans every step before step 1, and
    # a new operator, resources and cancel event for each would be made for nothing.
    ctx = plan_context(playbook, renderer)
    return [_located_plan_step(i, step, ctx, renderer) for i, step in enumerate(chosen, 1)]


def plan_context(playbook: Playbook, renderer: PlanRenderer) -> StepContext:
    """The context a step type plans in: `renderer`, nobody to ask, nothing held."""
    return StepContext(
        step_id="",
        render=renderer,
        operator=HeadlessOperator(assume_yes=False),
        resources=Resources(),
        base_dir=Path(playbook.file).resolve().parent,
        cancel=threading.Event(),
    )


def _located_plan_step(
    index: int, step: Step, shared: StepContext, renderer: PlanRenderer
) -> PlannedStep:
    """The plan of one step; a template that cannot render names the step and its place."""
    known_before = len(renderer.unknown)
    try:
        planned = _plan_step(index, step, shared)
    except RenderError as exc:
        message = f"step '{step.id}': {exc.message}"
        raise RenderError(message, exc.hint, exc.location or step.location) from None
    unknown = renderer.unknown[known_before:]
    if not unknown:
        return planned
    note = f"depends on {', '.join(dict.fromkeys(unknown))}, known only during the run"
    return replace(planned, note=f"{planned.note}; {note}" if planned.note else note)


def _plan_step(index: int, step: Step, shared: StepContext) -> PlannedStep:
    ctx = replace(shared, step_id=step.id)
    renderer = ctx.render
    planned = _located(step.action.location, lambda: plan_action(step.action, ctx))
    undo_at = step.undo.location if step.undo is not None else step.location
    undo = _located(undo_at, lambda: describe_undo(step, ctx))
    readonly = is_readonly(step) or planned.readonly
    verdict = Verdict.NO_OP if readonly else _mutation_verdict(planned)
    verdict, note = _when_verdict(step, renderer, verdict, planned.note)
    return PlannedStep(
        index=index,
        id=step.id,
        title=step.title,
        type=step.action.type,
        command=planned.command,
        undo=undo,
        readonly=readonly,
        verdict=str(verdict),
        note=note,
        confirm=_confirm_text(step, ctx),
        when=step.when or "",
    )


def _located(where: Location, plan: Callable[[], T]) -> T:
    """`plan()`; a template it cannot render is placed at `where` (the step's body or undo)."""
    try:
        return plan()
    except RenderError as exc:
        raise RenderError(exc.message, exc.hint, exc.location or where) from None


def _confirm_text(step: Step, ctx: StepContext) -> str:
    """The confirm question as the operator will see it, as far as it is known now."""
    if not step.confirm:
        return ""
    try:
        return ctx.render.text(step.confirm)
    except RenderError:
        return step.confirm


def plan_action(action: Action, ctx: StepContext) -> Planned:
    return step_type(action.type).plan(action.spec, ctx)


def _mutation_verdict(planned: Planned) -> Verdict:
    # A command the type cannot see into will run, so it "would change".
    return Verdict.WOULD_CHANGE if planned.verdict is Verdict.UNKNOWN else planned.verdict


def _when_verdict(step: Step, renderer: Any, verdict: Verdict, note: str) -> tuple[Verdict, str]:
    if not step.when:
        return verdict, note

    try:
        if not evaluate_condition(step.when, renderer.variables):
            return Verdict.NO_OP, "skipped: `when` is false"
    except UnknownUntilRun as exc:
        return Verdict.UNKNOWN, f"`when` depends on {exc.args[0]}, known only during the run"
    return verdict, note


def describe_undo(step: Step, ctx: StepContext) -> str:
    """What rolling this step back would do, rendered."""
    if step.undo is not None:
        return plan_action(step.undo, ctx).command
    if undoes_itself(step):
        return "captured automatically before the change"
    if step.irreversible:
        return f"irreversible: {step.irreversible}"
    return "none needed (read-only)" if is_readonly(step) else "none"


def unavailable_types(playbook: Playbook) -> list[str]:
    types = {step.action.type for step in playbook.steps}
    types |= {step.undo.type for step in playbook.steps if step.undo}
    return sorted(t for t in types if not is_available(t))


def render_plan_text(
    playbook: Playbook,
    plan: Sequence[PlannedStep],
    probed: ProbedPlan | None = None,
    secrets: Sequence[SecretStatus] = (),
) -> str:
    """The plan as a person reads it: the secrets a live run needs, then every step."""
    meta = playbook.metadata
    lines = [f"plan: {meta.name} {meta.version} (level {meta.maturity}) — nothing will be changed"]
    if probed is not None:
        lines += _probe_lines(probed)
    lines += secret_lines(secrets)
    for item in plan:
        lines.append(f"{item.index}. {item.id} [{item.type}] {item.verdict}")
        lines.append(f"     run:  {_indented(item.command)}")
        lines.append(f"     undo: {_indented(item.undo)}")
        lines += [f"     {label}: {text}" for label, text in _extras(item) if text]
    return "\n".join(lines)


def _indented(text: str) -> str:
    return text.strip().replace("\n", "\n" + " " * 11)


def _extras(item: PlannedStep) -> list[tuple[str, str]]:
    return [("confirm", item.confirm), ("when", item.when), ("note", item.note)]


def secret_lines(
    secrets: Sequence[SecretStatus], needed_by: str = "a live run", verb: str = "runbook run"
) -> list[str]:
    """Which secrets `needed_by` reads, and which of them it could not read now (`verb`
    would refuse to start)."""
    if not secrets:
        return []
    missing = sum(1 for status in secrets if status.problem)
    head = f"secrets {needed_by} needs:"
    if missing:
        head = f"secrets {needed_by} needs ({missing} not set: `{verb}` would refuse to start):"
    lines = [head]
    for status in secrets:
        state = f"NOT SET ({status.problem})" if status.problem else "set"
        lines.append(f"  {status.name}: {status.source} — {state}")
    return lines


def secrets_json(secrets: Sequence[SecretStatus]) -> list[dict[str, Any]]:
    """The secrets as `--output json` lists them: name, source, problem, and `set`."""
    return [{**asdict(status), "set": not status.problem} for status in secrets]


def _probe_lines(probed: ProbedPlan) -> list[str]:
    lines = [f"read-only steps run: {', '.join(probed.read_steps) or 'none'}"]
    sample = probed.precheck
    if sample is not None:
        value = "" if sample.value is None else f" {sample.value:g}"
        why = f" ({sample.error})" if sample.error else ""
        lines.append(f"SLI now: {sample.verdict}{value}{why}")
    lines.append(f"pre-check would: {probed.decision}")
    return lines


def render_plan_json(
    playbook: Playbook,
    plan: Sequence[PlannedStep],
    probed: ProbedPlan | None = None,
    secrets: Sequence[SecretStatus] = (),
) -> str:
    """The plan as one JSON document; `secrets` lists each with `set` and its problem."""
    meta = playbook.metadata
    document = {
        "playbook": meta.name,
        "version": meta.version,
        "maturity": meta.maturity,
        "content_hash": playbook.content_hash,
        "secrets": secrets_json(secrets),
        "steps": [asdict(item) for item in plan],
    }
    if probed is not None:
        sample = probed.precheck
        document["probe"] = {
            "read_steps": probed.read_steps,
            "sli": None if sample is None else {k: v for k, v in asdict(sample).items()},
            "precheck_decision": probed.decision,
        }
    return json.dumps(document, indent=2)


PRECHECK_DECISIONS = {
    SliVerdict.HEALTHY: "refuse: the SLI is already healthy (nothing to fix)",
    SliVerdict.UNHEALTHY: "proceed: the SLI is unhealthy",
    SliVerdict.UNKNOWN: "refuse: the SLI cannot be read",
}


class ProbedPlan(Struct, frozen=True):
    plan: list[PlannedStep]
    precheck: Sample | None
    read_steps: list[str]

    @property
    def decision(self) -> str:
        if self.precheck is None:
            return "proceed: no SLI declared"
        return PRECHECK_DECISIONS[self.precheck.verdict]
