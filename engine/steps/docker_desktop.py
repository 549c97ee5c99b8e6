"""`docker_desktop`: one action on Docker Desktop, through the real `docker` CLI and its
`docker desktop` plugin, or Docker Desktop's settings file.

Every call runs under the step's deadline (`docker desktop restart` has none of its
own). `status`, `engine_ping` and `check_disk_image` are read-only, and so is
`ensure_resources` unless it says `apply: true` — then it raises what is below a
floor and never lowers the VM's memory cap. `start`, `stop` and `context_use`
capture what their undo needs; `restart` and `prune` have no inverse.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from engine.backends.localstack import desktop_actions
from engine.backends.localstack.cli import Deadline, refused, with_reason
from engine.backends.localstack.sizes import SIZE_HINT, SizeError, format_mib, parse_mib
from engine.core.findings import Location
from engine.core.rendering import Renderer
from engine.core.results import Planned, SpecError, StepResult, Verdict
from engine.steps.base import DEFAULT_STEP_TIMEOUT, Detail, StepContext

READONLY = frozenset({"status", "engine_ping", "check_disk_image"})
SELF_UNDOING = frozenset({"start", "stop", "context_use"})
FLOORS = {"min_memory": "memory", "min_cpus": "cpus", "min_disk": "disk"}
ONLY_FOR = {
    "context": {"context_use"},
    "min_memory": {"ensure_resources"},
    "min_cpus": {"ensure_resources"},
    "min_disk": {"ensure_resources"},
    "apply": {"ensure_resources"},
    "min_free": {"check_disk_image"},
    "disk_image": {"check_disk_image"},
    "settings_file": {"ensure_resources", "check_disk_image"},
}


needs_human = False
default_timeout: float | None = DEFAULT_STEP_TIMEOUT
probed = True
command_fields: frozenset[str] = frozenset()
stdin_fields: frozenset[str] = frozenset()


class DesktopSpec(Struct, frozen=True):
    action: str
    context: str | None = None
    min_memory: str | int | None = None
    min_cpus: int | None = None
    min_disk: str | int | None = None
    min_free: str | int | None = None
    settings_file: str | None = None
    disk_image: str | None = None
    apply: bool = False
    capture: str | None = None
    reason: str = ""


def parse(body: Any, where: Location) -> DesktopSpec:
    action = str(body["action"])
    for key, actions in ONLY_FOR.items():
        if key in body and action not in actions:
            raise SpecError(f"`{key}` is only used by `{sorted(actions)[0]}`", field_name=key)
    if action == "context_use" and not body.get("context"):
        raise SpecError("the `context_use` action needs `context:`", field_name="context")
    if action == "ensure_resources" and not any(key in body for key in FLOORS):
        hint = "give at least one of min_memory, min_cpus, min_disk"
        raise SpecError("`ensure_resources` needs a floor to check", hint, "min_memory")
    for key in ("min_memory", "min_disk", "min_free"):
        _check_size(key, body.get(key))
    return DesktopSpec(
        action=action,
        **{k: body.get(k) for k in ("context", "min_memory", "min_cpus", "min_disk")},
        **{k: body.get(k) for k in ("min_free", "settings_file", "disk_image", "capture")},
        apply=bool(body.get("apply", False)),
        reason=str(body.get("reason", "")),
    )


def _check_size(key: str, value: Any) -> None:
    if value is None or "{{" in str(value):
        return
    try:
        parse_mib(value)
    except SizeError as exc:
        raise SpecError(str(exc), SIZE_HINT, key) from None


def is_readonly(spec: DesktopSpec) -> bool:
    return spec.action in READONLY or (spec.action == "ensure_resources" and not spec.apply)


def undoes_itself(spec: DesktopSpec) -> bool:
    return spec.action in SELF_UNDOING


def capture_name(spec: DesktopSpec) -> str | None:
    return spec.capture


def expectation(spec: DesktopSpec) -> str:
    return ""


def render_values(spec: DesktopSpec, render: Renderer) -> dict[str, Any]:
    """The rendered values an action uses; ValueError names a bad one."""
    floors: dict[str, int] = {}
    for key, what in FLOORS.items():
        raw = getattr(spec, key)
        if raw is not None:
            floors[what] = _amount(what, render.text(raw) if isinstance(raw, str) else raw)
    context = render.text(spec.context) if spec.context else None
    if context is not None and (not context or context.startswith("-")):
        raise ValueError(f"context {context!r} is not a docker context name")
    return {
        "context": context,
        "floors": floors,
        "apply": spec.apply,
        "settings_file": render.text(spec.settings_file) if spec.settings_file else None,
        "disk_image": render.text(spec.disk_image) if spec.disk_image else None,
        "min_free_mib": _amount("disk", _text(spec.min_free, render)) if spec.min_free else None,
    }


def _text(value: str | int | None, render: Renderer) -> str | int | None:
    return render.text(value) if isinstance(value, str) else value


def _amount(what: str, value: object) -> int:
    if what != "cpus":
        return parse_mib(value)
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"min_cpus {value!r} is not a whole number of CPUs")
    return int(text)


def describe(spec: DesktopSpec, r: Mapping[str, Any]) -> str:
    """What the action runs or reads, for the plan."""
    argv = {
        "status": desktop_actions.desktop_argv("status"),
        "start": desktop_actions.desktop_argv("start"),
        "stop": desktop_actions.desktop_argv("stop"),
        "restart": desktop_actions.desktop_argv("restart"),
        "engine_ping": desktop_actions.PING_ARGV,
        "prune": desktop_actions.PRUNE_ARGV,
        "context_use": desktop_actions.context_use_argv(str(r["context"])),
    }.get(spec.action)
    if argv is not None:
        return shlex.join(argv)
    where = r["settings_file"] or "Docker Desktop's settings file for this OS"
    if spec.action == "check_disk_image":
        return f"check the VM disk image ({r['disk_image'] or 'from ' + where})"
    floors = ", ".join(
        f"{what} ≥ {amount if what == 'cpus' else format_mib(amount)}"
        for what, amount in r["floors"].items()
    )
    verb = "raise to" if spec.apply else "check against"
    return f"{verb} floors ({floors}) in {where}"


def plan(spec: DesktopSpec, ctx: StepContext) -> Planned:
    """The exact command or file check a run would do; nothing is called or read."""
    try:
        values = render_values(spec, ctx.render)
    except ValueError as exc:
        return Planned(
            f"docker desktop {spec.action}", is_readonly(spec), Verdict.UNKNOWN, str(exc)
        )
    readonly = is_readonly(spec)
    note = "never lowers a value; refused when the current one is unknown" if spec.apply else ""
    verdict = Verdict.NO_OP if readonly else Verdict.WOULD_CHANGE
    return Planned(describe(spec, values), readonly, verdict, note)


def details(spec: DesktopSpec, ctx: StepContext) -> list[Detail]:
    """Nothing beyond what `plan` shows."""
    return []


def apply(spec: DesktopSpec, ctx: StepContext) -> StepResult:
    deadline = Deadline(ctx.timeout)
    try:
        values = render_values(spec, ctx.render)
    except ValueError as exc:
        return refused(str(exc))
    return with_reason(
        desktop_actions.ACTIONS[spec.action](spec, values, ctx, deadline), spec.reason
    )


def undo(spec: DesktopSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    return desktop_actions.undo(spec, captured, ctx)
