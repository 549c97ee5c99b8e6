"""`minikube`: one action on a minikube profile, through the `minikube` CLI.

Every call runs under the step's deadline with its process group killed on timeout.
`status` and `logs` are read-only; `start`, `stop` and `addons` capture what their
undo needs (the profile's configuration, the addon's state); `restart`, `delete`,
`ssh` and `update_context` have no inverse, so a playbook says `irreversible:` (or
`readonly: true` for a read-only `ssh`). `start` never shrinks a profile unless
`allow_shrink: true`; `delete` needs a backup step of the same run that succeeded
(`backup_step:`), or `force: true` with a `reason:`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from engine.backends.localstack import minikube_actions
from engine.backends.localstack.cli import Deadline, refused, with_reason
from engine.backends.localstack.minikube_argv import Target, main_argv, render_target
from engine.backends.localstack.sizes import SIZE_HINT, SizeError, parse_mib
from engine.core.findings import Location
from engine.core.results import Planned, SpecError, StepResult, Verdict
from engine.steps.base import DEFAULT_STEP_TIMEOUT, Detail, StepContext
from engine.steps.common import parse_run

READONLY = frozenset({"status", "logs"})
SELF_UNDOING = frozenset({"start", "stop", "addons"})
# Keys that only some actions use; anything else on another action is a mistake.
ONLY_FOR = {
    "driver": {"start"},
    "memory": {"start"},
    "cpus": {"start"},
    "kubernetes_version": {"start"},
    "allow_shrink": {"start"},
    "force": {"start", "delete"},
    "addon": {"addons"},
    "enable": {"addons"},
    "command": {"ssh"},
    "tail_lines": {"logs"},
    "backup_step": {"delete"},
}
NEEDS = {"addons": ("addon", "enable"), "ssh": ("command",)}


needs_human = False
default_timeout: float | None = DEFAULT_STEP_TIMEOUT
probed = True
command_fields: frozenset[str] = frozenset({"command"})  # the `command:` of an `ssh` action
stdin_fields: frozenset[str] = frozenset()


class MinikubeSpec(Struct, frozen=True):
    action: str
    profile: str = "minikube"
    driver: str | None = None
    memory: str | int | None = None
    cpus: str | int | None = None
    kubernetes_version: str | None = None
    allow_shrink: bool = False
    force: bool = False
    reason: str = ""
    addon: str | None = None
    enable: bool | None = None
    command: str | tuple[str, ...] | None = None
    tail_lines: int = 60
    capture: str | None = None
    backup_step: str | None = None


def parse(body: Any, where: Location) -> MinikubeSpec:
    action = str(body["action"])
    _check_keys(action, body)
    _check_literals(body)
    if action == "delete":
        _check_delete(body)
    return MinikubeSpec(
        action=action,
        profile=str(body.get("profile", "minikube")),
        driver=body.get("driver"),
        memory=body.get("memory"),
        cpus=body.get("cpus"),
        kubernetes_version=body.get("kubernetes_version"),
        allow_shrink=bool(body.get("allow_shrink", False)),
        force=bool(body.get("force", False)),
        reason=str(body.get("reason", "")),
        addon=body.get("addon"),
        enable=body.get("enable"),
        command=parse_run(body["command"]) if "command" in body else None,
        tail_lines=int(body.get("tail_lines", 60)),
        capture=body.get("capture"),
        backup_step=body.get("backup_step"),
    )


def _check_keys(action: str, body: Mapping[str, Any]) -> None:
    for key, actions in ONLY_FOR.items():
        if key in body and action not in actions:
            used = " and ".join(f"`{a}`" for a in sorted(actions))
            raise SpecError(f"`{key}` is only used by {used}", field_name=key)
    for key in NEEDS.get(action, ()):
        if key not in body:
            raise SpecError(f"the `{action}` action needs `{key}:`", field_name=key)


def _check_literals(body: Mapping[str, Any]) -> None:
    """Sizes and CPU counts written literally are checked now, templates at run time."""
    memory = body.get("memory")
    if memory is not None and "{{" not in str(memory):
        try:
            parse_mib(memory)
        except SizeError as exc:
            raise SpecError(str(exc), hint=SIZE_HINT, field_name="memory") from None
    cpus = body.get("cpus")
    if cpus is not None and "{{" not in str(cpus) and not str(cpus).isdigit():
        raise SpecError(f"cpus {cpus!r} is not a whole number", field_name="cpus")


def _check_delete(body: Mapping[str, Any]) -> None:
    if body.get("force"):
        if not str(body.get("reason", "")).strip():
            hint = "say why deleting without a backup is acceptable, e.g. the VM is already gone"
            raise SpecError("`force: true` on delete needs a `reason:`", hint, "reason")
    elif not body.get("backup_step"):
        hint = "name the step that took the backup (e.g. a kubectl export) in `backup_step:`"
        message = "delete destroys the cluster: it needs `backup_step:` or `force: true`"
        raise SpecError(message, hint, "backup_step")


def is_readonly(spec: MinikubeSpec) -> bool:
    return spec.action in READONLY


def undoes_itself(spec: MinikubeSpec) -> bool:
    return spec.action in SELF_UNDOING


def capture_name(spec: MinikubeSpec) -> str | None:
    return spec.capture


def expectation(spec: MinikubeSpec) -> str:
    return ""


def plan(spec: MinikubeSpec, ctx: StepContext) -> Planned:
    """The exact argv the run would execute; nothing is called."""
    try:
        target = render_target(spec, ctx.render)
    except ValueError as exc:
        return Planned(f"minikube {spec.action}", is_readonly(spec), Verdict.UNKNOWN, str(exc))
    commands = "\n".join(shlex.join(argv) for argv in main_argv(spec.action, target, spec))
    verdict = Verdict.NO_OP if is_readonly(spec) else Verdict.WOULD_CHANGE
    return Planned(commands, is_readonly(spec), verdict, _plan_note(spec, target))


def _plan_note(spec: MinikubeSpec, t: Target) -> str:
    if spec.action == "start" and (t.memory_mib or t.cpus) and not spec.allow_shrink:
        return "refused at run time if it would shrink the profile's current memory or CPUs"
    if spec.action == "stop":
        return "reads the profile's configuration first; the undo starts it with that"
    if spec.action == "delete":
        if spec.force:
            return f"forced without a backup: {spec.reason}"
        return f"runs only if step {spec.backup_step!r} (the backup) succeeded earlier"
    if spec.action == "addons":
        return "reads the addon's state first; the undo sets it back"
    return ""


def details(spec: MinikubeSpec, ctx: StepContext) -> list[Detail]:
    """Nothing beyond what `plan` shows."""
    return []


def apply(spec: MinikubeSpec, ctx: StepContext) -> StepResult:
    deadline = Deadline(ctx.timeout)
    try:
        target = render_target(spec, ctx.render)
    except ValueError as exc:
        return refused(str(exc))
    return with_reason(
        minikube_actions.ACTIONS[spec.action](spec, target, ctx, deadline), spec.reason
    )


def undo(spec: MinikubeSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    return minikube_actions.undo(spec, captured, ctx)
