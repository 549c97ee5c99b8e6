"""`kubectl`: one Kubernetes API action per step, through the official Python client
(imported only when a step runs), never the kubectl binary.

Mutating actions capture their own undo before they act; the captured state (JSON, in
the ledger) also names the context and the cluster's UID, so `runbook rollback` in
another process undoes on the very cluster the step changed. `plan` sends mutations
as server-side dry-runs (dryRun=All) only in `runbook plan`, never during a run.

`export` writes files and changes nothing in the cluster; its undo removes the files
without connecting. `restore` verifies the export before it connects; with
`verify_only: true` it never connects at all.

The module is also the playbook hook of the `kubernetes:` block: the defaults every
Kubernetes step (and the kubernetes probe) uses, the run variables that carry them,
the refusals before step 1 (`engine.backends.kube.guard`) and the checks across steps.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.backends.kube import guard
from engine.backends.kube.config import (
    Binding,
    KubeConfigError,
    KubernetesDefaults,
    bind,
    playbook_defaults,
    rebind,
)
from engine.backends.kube.guard import KubeNames
from engine.backends.kube.spec import MODULES, SELF_UNDOING, KubeSpec, describe, parse_spec
from engine.core.durations import format_seconds, parse_duration
from engine.core.findings import Location
from engine.core.results import Planned, Status, StepResult, Verdict
from engine.steps.base import DEFAULT_STEP_TIMEOUT, Detail, StepContext, StepProblem

if TYPE_CHECKING:
    from engine.backends.kube.client import Deadline
    from engine.backends.kube.ops import Done, Op
    from engine.model.playbook import Playbook, Step

DEFAULT_DEADLINE = 30 * 60.0
PLAN_DEADLINE = 15.0
NAME = "kubectl"  # the YAML key of its steps

# The top-level block of the playbook this hook owns: the defaults of every Kubernetes
# step and of an SLI probe that reads a cluster (the run variables' `playbook.kubernetes`).
block = "kubernetes"
NAMES = KubeNames(frozenset({NAME}), block)


needs_human = False
default_timeout: float | None = DEFAULT_STEP_TIMEOUT
probed = True
command_fields: frozenset[str] = frozenset()
stdin_fields: frozenset[str] = frozenset()


def parse(body: Any, where: Location) -> KubeSpec:
    """The step body, checked for the keys its action needs."""
    return parse_spec(body)


def is_readonly(spec: KubeSpec) -> bool:
    """get, logs, wait and a restore that only verifies change nothing."""
    return spec.readonly


def undoes_itself(spec: KubeSpec) -> bool:
    """Every mutating action but `delete` captures its own undo."""
    return spec.action in SELF_UNDOING


def capture_name(spec: KubeSpec) -> str | None:
    return spec.capture


def expectation(spec: KubeSpec) -> str:
    return ""


def parse_block(raw: Mapping[str, Any]) -> KubernetesDefaults:
    """The playbook's `kubernetes:` block."""
    return KubernetesDefaults(**raw)


def problems(playbook: Playbook, steps: Sequence[Step]) -> Iterator[StepProblem]:
    """A kubectl `timeout:` longer than its step's; at level 3, a step naming no context."""
    for step in steps:
        yield from _timeout_past_step(step)
    if playbook.metadata.maturity == 3:
        yield from _contextless(playbook, steps)


def run_variables(playbook: Playbook, environ: Mapping[str, str]) -> Mapping[str, Any]:
    """`playbook.kubernetes`: the defaults, with the kubeconfig the environment names."""
    return {block: guard.defaults_mapping(playbook, environ, block)}


def refusal(playbook: Playbook, variables: Mapping[str, Any]) -> tuple[str, str]:
    """A context that is not in the kubeconfig, none at level 3, a wrong pinned cluster."""
    return guard.refusal(playbook, variables, NAMES)


def _timeout_past_step(step: Step) -> Iterator[StepProblem]:
    """A kubectl `timeout:` longer than its step's: the step's cuts it first."""
    body = getattr(step.action.spec, "body", None)
    own = body.get("timeout") if isinstance(body, Mapping) else None
    if step.action.type != NAME or step.timeout is None or not isinstance(own, str):
        return
    if parse_duration(own) > step.timeout:
        message = (
            f"kubectl timeout {own} is longer than the step's timeout "
            f"{format_seconds(step.timeout)}, which ends the step first"
        )
        hint = "raise the step's timeout above it, or lower the kubectl timeout"
        yield StepProblem(step, ("kubectl", "timeout"), message, hint)


def _contextless(playbook: Playbook, steps: Sequence[Step]) -> Iterator[StepProblem]:
    for step in guard.contextless(steps, playbook, NAMES):
        message = (
            f"step {step.id!r} names no kubeconfig context; level 3 never uses the current one"
        )
        hint = "set `context:` on the step or under `kubernetes:`, or lower metadata.maturity to 2"
        yield StepProblem(step, (step.action.type,), message, hint)


def plan(spec: KubeSpec, ctx: StepContext) -> Planned:
    """What the step would do; in `runbook plan`, a server-side dry-run's verdict."""
    body = ctx.render.value(dict(spec.body))
    readonly = is_readonly(spec)
    if spec.local:
        return Planned(describe(spec.action, body, "-"), True, Verdict.NO_OP, "reads files only")
    try:
        binding = _binding(spec, ctx)
    except KubeConfigError as exc:
        return Planned(describe(spec.action, body, "?"), readonly, Verdict.UNKNOWN, str(exc))
    command = describe(spec.action, body, binding.context)
    if readonly:
        return Planned(command, True, Verdict.NO_OP)
    if _mode(ctx) != "dry-run":
        return Planned(command, False, Verdict.UNKNOWN)
    return Planned(command, False, *_dry_run(spec, ctx, body, binding))


def _dry_run(
    spec: KubeSpec, ctx: StepContext, body: dict[str, Any], binding: Binding
) -> tuple[Verdict, str]:
    from engine.backends.kube.client import KubeError
    from engine.backends.kube.ops import ActionError, check_names
    from engine.backends.kube.session import client_for

    try:
        check_names(body)
        deadline = _deadline(ctx, None, PLAN_DEADLINE)
        op = _op(client_for(ctx.resources, binding, deadline), body, deadline, ctx)
        op.dry_run = True
        preview = _module(spec).preview(spec.action, op)
    except (KubeError, ActionError, KubeConfigError) as exc:
        return Verdict.UNKNOWN, f"server-side dry-run not possible: {exc}"
    return preview.verdict, preview.note


def details(spec: KubeSpec, ctx: StepContext) -> list[Detail]:
    """Nothing beyond what `plan` shows."""
    return []


def apply(spec: KubeSpec, ctx: StepContext) -> StepResult:
    """Run the action; a failed API call is a failed (or timed-out) step, never a crash."""
    body = ctx.render.value(dict(spec.body))
    if spec.action == "wait" and _mode(ctx) == "dry-run":
        body["timeout"] = "1s"  # `plan --probe` looks once; it does not wait
    if spec.action == "restore":
        refused = _verify_export(spec, body, ctx)
        if refused is not None:
            return refused

    def act(op: Op) -> Done:
        done: Done = _module(spec).apply(spec.action, op)
        return done

    return _run(ctx, body, lambda: _binding(spec, ctx), act)


def undo(spec: KubeSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    """Undo with the captured state, on the context (and cluster) the step acted on."""
    if not any(key in captured for key in ("kind", "export_dir", "restored_from")):
        return StepResult(Status.SKIPPED, message="nothing was captured: nothing to undo")
    if "export_dir" in captured:
        return _remove_export(captured)
    defaults = playbook_defaults(ctx.render, block)
    context, uid = str(captured.get("context", "")), captured.get("cluster_uid")

    def binding() -> Binding:
        return rebind(context, uid or None, defaults, ctx.render, ctx.base_dir)

    def act(op: Op) -> Done:
        done: Done = _module(spec).undo(spec.action, op, captured)
        return done

    return _run(ctx, {"namespace": captured.get("namespace")}, binding, act)


def _verify_export(spec: KubeSpec, body: dict[str, Any], ctx: StepContext) -> StepResult | None:
    """A restore checks its export before it connects; `verify_only` stops there."""
    from engine.backends.kube.ops import ActionError
    from engine.backends.kube.restore import verified, verify_only

    try:
        if spec.local:
            done = verify_only(body, ctx.base_dir)
        else:
            verified(body, ctx.base_dir)
            return None
    except ActionError as exc:
        return StepResult(Status.FAILED, message=f"restore refused: {exc}")
    ctx.on_output(done.message)
    return StepResult(Status.SUCCEEDED, 0, done.output, done.message, {}, done.value, False)


def _remove_export(captured: Mapping[str, Any]) -> StepResult:
    from engine.backends.kube.export import undo_local
    from engine.backends.kube.ops import ActionError

    try:
        done = undo_local(captured)
    except (ActionError, OSError) as exc:
        return StepResult(Status.FAILED, message=f"could not remove the export: {exc}")
    return StepResult(Status.SUCCEEDED, 0, done.message, done.message, {}, None, True)


def _run(
    ctx: StepContext,
    body: dict[str, Any],
    binding: Callable[[], Binding],
    act: Callable[[Op], Done],
) -> StepResult:
    from engine.backends.kube.client import KubeError
    from engine.backends.kube.ops import ActionError

    op: Op | None = None
    try:
        op = _connect(ctx, body, binding())
        done = act(op)
    except (KubeError, ActionError, KubeConfigError) as exc:
        status = Status.TIMED_OUT if getattr(exc, "timed_out", False) else Status.FAILED
        state = op.captured if op is not None else None
        return StepResult(status, message=str(exc), captured=_captured(op, state))
    ctx.on_output(done.message)
    captured = _captured(op, done.captured)
    output = done.output or done.message
    return StepResult(Status.SUCCEEDED, 0, output, done.message, captured, done.value, done.changed)


def _connect(ctx: StepContext, body: dict[str, Any], binding: Binding) -> Op:
    from engine.backends.kube.ops import check_names
    from engine.backends.kube.session import client_for

    check_names(body)
    deadline = _deadline(ctx, body.get("timeout"), DEFAULT_DEADLINE)
    return _op(client_for(ctx.resources, binding, deadline), body, deadline, ctx)


def _captured(op: Op | None, state: Mapping[str, Any] | None) -> dict[str, Any]:
    """The undo state plus where it applies: the context and the cluster's UID."""
    if op is None or not state:
        return {}
    binding = op.client.binding
    return {**state, "context": binding.context, "cluster_uid": op.client.uid or None}


def _binding(spec: KubeSpec, ctx: StepContext) -> Binding:
    return bind(spec.context, playbook_defaults(ctx.render, block), ctx.render, ctx.base_dir)


def _mode(ctx: StepContext) -> str:
    variables = getattr(ctx.render, "variables", None) or {}
    run = variables.get("run") or {}
    return str(run.get("mode", "")) if isinstance(run, Mapping) else ""


def _deadline(ctx: StepContext, action_timeout: Any, default: float) -> Deadline:
    from engine.backends.kube.client import Deadline

    seconds = ctx.timeout if ctx.timeout is not None else default
    if action_timeout:
        seconds = min(seconds, parse_duration(str(action_timeout)))
    return Deadline.after(seconds, ctx.cancel)


def _op(client: Any, body: dict[str, Any], deadline: Deadline, ctx: StepContext) -> Op:
    from engine.backends.kube.ops import Op

    return Op(client, body, deadline, ctx.base_dir)


def _module(spec: KubeSpec) -> Any:
    return importlib.import_module(f"engine.backends.kube.{MODULES[spec.action]}")
