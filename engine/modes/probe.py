"""`runbook plan --probe`: a dry-run that also reads. It runs the SLI probe and the
read-only steps (their captures make the plan concrete), and says what the
pre-check would decide. Nothing that changes anything runs."""

from __future__ import annotations

import threading
from pathlib import Path

from engine.core.resources import Resources
from engine.playbook.traits import capture_name, is_readonly
from engine.run.execution import apply_step, step_timeout
from engine.run.plan import ProbedPlan, build_plan, plan_variables
from engine.run.preflight import Prepared
from engine.sli.checker import SliChecker
from engine.sli.judge import Sample
from engine.steps.base import StepContext
from engine.steps.registry import step_type
from engine.templating.render import TemplateRenderer
from engine.ui.operator import HeadlessOperator


def probe_plan(prepared: Prepared) -> ProbedPlan:
    """Sample the SLI once, run the read-only steps, then plan with what they captured.
    The probe and the steps share their connections (one client per target)."""
    resources = Resources()
    try:
        precheck = _sample(prepared, resources)
        read_steps = _run_readonly_steps(prepared, resources)
    finally:
        resources.close_all()
    plan = build_plan(prepared.playbook, plan_variables(prepared.variables))
    return ProbedPlan(plan, precheck, read_steps)


def _sample(prepared: Prepared, resources: Resources) -> Sample | None:
    sli = prepared.playbook.sli
    if sli is None:
        return None
    variables = prepared.variables
    render = lambda: TemplateRenderer(variables.as_mapping())  # noqa: E731
    secrets, cancel = dict(variables.secrets), threading.Event()
    checker = SliChecker(
        sli, render, secrets, lambda s, p: None, cancel, resources, prepared.withheld_env
    )
    return checker.sample("pre-check")


def _run_readonly_steps(prepared: Prepared, resources: Resources) -> list[str]:
    ran = []
    for step in prepared.playbook.steps:
        if not is_readonly(step) or step.when or not step_type(step.action.type).probed:
            continue
        ctx = StepContext(
            step_id=step.id,
            render=TemplateRenderer(prepared.variables.as_mapping()),
            operator=HeadlessOperator(assume_yes=False),
            resources=resources,
            base_dir=Path(prepared.playbook.file).resolve().parent,
            timeout=step_timeout(step),
            inventory=prepared.request.inventory,  # as a run gives ssh steps
            step=step,
            withheld_env=prepared.withheld_env,
        )
        result = apply_step(step, ctx)
        prepared.variables.record(step.id, capture_name(step), result)
        ran.append(f"{step.id}: {result.status}")
    return ran
