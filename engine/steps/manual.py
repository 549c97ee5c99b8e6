"""`manual`: a human does the work; the engine shows instructions and records the answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from engine.core.findings import Location
from engine.core.results import Planned, Status, StepResult, Verdict
from engine.steps.base import Detail, StepContext

ANSWER_STATUS = {"done": Status.SUCCEEDED, "failed": Status.FAILED, "skipped": Status.SKIPPED}


# A human does the work: the step waits for their answer as long as it takes,
# and `plan --probe` does not ask them.
needs_human = True
default_timeout: float | None = None
probed = False
command_fields: frozenset[str] = frozenset()
stdin_fields: frozenset[str] = frozenset()


def block(instructions: str, expect: str = "") -> dict[str, dict[str, str]]:
    """A step's (or an undo's) `manual:` block as a playbook file holds it, for what
    writes playbooks (`runbook import`)."""
    body = {"instructions": instructions}
    if expect:
        body["expect"] = expect
    return {"manual": body}


class ManualSpec(Struct, frozen=True):
    instructions: str
    expect: str = ""


def parse(body: Any, where: Location) -> ManualSpec:
    return ManualSpec(str(body["instructions"]), str(body.get("expect", "")))


def is_readonly(spec: ManualSpec) -> bool:
    return False


def undoes_itself(spec: ManualSpec) -> bool:
    return False


def capture_name(spec: ManualSpec) -> str | None:
    return None


def expectation(spec: ManualSpec) -> str:
    return spec.expect


def plan(spec: ManualSpec, ctx: StepContext) -> Planned:
    first_line = ctx.render.text(spec.instructions).strip().splitlines()[0]
    return Planned(f"manual: {first_line}", readonly=False, verdict=Verdict.UNKNOWN)


def details(spec: ManualSpec, ctx: StepContext) -> list[Detail]:
    """The whole instructions (their commands and checklist items with them), and what
    the human should see once done: what the checklist shows, where `plan` has room
    only for the first line."""
    shown = [Detail("instructions", ctx.render.text(spec.instructions).strip())]
    if spec.expect:
        shown.append(Detail("expect", ctx.render.text(spec.expect).strip()))
    return shown


def apply(spec: ManualSpec, ctx: StepContext) -> StepResult:
    """Ask the operator; their answer (done / failed / skipped) is the result."""
    body = ctx.render.text(spec.instructions)
    expect = ctx.render.text(spec.expect)
    title = ctx.step.label if ctx.step is not None else ctx.step_id
    answer, note = ctx.operator.checklist(title, body, expect)
    return StepResult(ANSWER_STATUS.get(answer, Status.FAILED), message=note)


def undo(spec: ManualSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    return apply(spec, ctx)
