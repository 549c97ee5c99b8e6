"""What each `minikube` action does when it runs, and how it is undone.

Every command runs under the step's deadline (`Deadline`), and a failure names the
command, its exit code and the tail of its stderr. Two rules protect the cluster:
`start` never shrinks a profile's memory or CPUs unless the step allows it, and
`delete` runs only after a backup step of the same run succeeded (or with `force`
and a reason).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from engine.backends.command_result import captured_value
from engine.backends.localstack import minikube_argv as argv
from engine.backends.localstack.cli import Deadline, failure, refused, run_cli, succeeded
from engine.backends.localstack.minikube_argv import Target
from engine.backends.localstack.minikube_status import (
    ProfileConfig,
    config_from_value,
    decode_status,
    find_profile,
)
from engine.backends.localstack.sizes import format_mib
from engine.backends.step_run import StepRun
from engine.core.results import Status, StepResult

Action = Callable[[Any, Target, StepRun, Deadline], StepResult]
KEPT_MEMORY = "cannot change the memory size for an existing"


def status(spec: Any, t: Target, ctx: StepRun, deadline: Deadline) -> StepResult:
    """Read-only: the decoded status; a stopped or missing profile is an answer, not a
    failure (later steps decide with `when:` on the capture)."""
    result = run_cli(argv.status_argv(t), ctx, deadline, read_only=True)
    decoded = None
    if result.exit_code is not None:
        decoded = decode_status(t.profile, result.exit_code, result.stdout)
    if decoded is None:
        unclear = "" if result.not_started else " (no status in its answer)"
        return failure(result, f"minikube status{unclear}")
    return succeeded(result, decoded.summary(), value=decoded.as_value())


def read_config(
    t: Target, ctx: StepRun, deadline: Deadline
) -> tuple[ProfileConfig | None, StepResult | None]:
    """The profile's configuration before a change (None: no such profile), or the
    StepResult that says why it could not be read."""
    result = run_cli(argv.profile_list_argv(), ctx, deadline, read_only=True)
    if result.exit_code is None:
        return None, failure(result, "reading the profile before the change")
    try:
        return find_profile(t.profile, result.exit_code, result.stdout), None
    except ValueError as exc:
        message = f"cannot read profile {t.profile!r} before the change: {exc}"
        return None, failure(result, message)


def shrink_problem(config: ProfileConfig | None, t: Target) -> str:
    """Why this start would leave the profile with less memory or fewer CPUs ("" when
    it would not). An unknown current value counts as a shrink: nothing is assumed."""
    if config is None:
        return ""
    found = []
    for label, wanted, current, show in (
        ("memory", t.memory_mib, config.memory_mib, format_mib),
        ("CPUs", t.cpus, config.cpus, str),
    ):
        if wanted is None:
            continue
        if current is None:
            found.append(f"the profile's current {label} is unknown")
        elif wanted < current:
            found.append(f"{label} would shrink from {show(current)} to {show(wanted)}")
    return "; ".join(found)


def start(spec: Any, t: Target, ctx: StepRun, deadline: Deadline) -> StepResult:
    config, problem = read_config(t, ctx, deadline)
    if problem is not None:
        return problem
    shrink = shrink_problem(config, t)
    if shrink and not spec.allow_shrink:
        hint = "set `allow_shrink: true` on the step if that is intended"
        return refused(f"start of profile {t.profile!r}: {shrink}; {hint}")
    captured = {
        "profile": t.profile,
        "existed": config is not None,
        "was_running": bool(config and config.running),
        "before": config.as_value() if config else None,
    }
    result = run_cli(argv.start_argv(t, spec.force), ctx, deadline)
    if not result.ok:
        return failure(result, f"starting profile {t.profile!r}", captured)
    note = _kept_memory_note(result.output, t)
    message = f"profile {t.profile!r} started{note}"
    return succeeded(result, message, captured=captured, value=captured, changed=True)


def _kept_memory_note(output: str, t: Target) -> str:
    if t.memory_mib and KEPT_MEMORY in output:
        return "; minikube kept the existing profile's memory (changing it needs a new profile)"
    return ""


def stop(spec: Any, t: Target, ctx: StepRun, deadline: Deadline) -> StepResult:
    config, problem = read_config(t, ctx, deadline)
    if problem is not None:
        return problem
    if config is None:
        return refused(f"profile {t.profile!r} does not exist; there is nothing to stop")
    captured = {"profile": t.profile, "was_running": config.running, "config": config.as_value()}
    result = run_cli(argv.stop_argv(t), ctx, deadline)
    if not result.ok:
        return failure(result, f"stopping profile {t.profile!r}", captured)
    return succeeded(result, f"profile {t.profile!r} stopped", captured=captured, changed=True)


def restart(spec: Any, t: Target, ctx: StepRun, deadline: Deadline) -> StepResult:
    """minikube has no restart: stop, then start with the profile's own configuration."""
    stopped = run_cli(argv.stop_argv(t), ctx, deadline)
    if not stopped.ok:
        return failure(stopped, f"restart of profile {t.profile!r} (stop)")
    started = run_cli(argv.start_argv(Target(t.profile)), ctx, deadline)
    if not started.ok:
        return failure(started, f"restart of profile {t.profile!r} (start)")
    output = stopped.output + started.output
    return StepResult(Status.SUCCEEDED, 0, output, f"profile {t.profile!r} restarted")


def backup_problem(spec: Any, ctx: StepRun) -> str:
    """Why this run has not taken the backup the delete needs ("" when it has)."""
    variables = getattr(ctx.render, "variables", None)
    steps = variables.get("steps") if isinstance(variables, Mapping) else None
    ran = steps.get(spec.backup_step) if isinstance(steps, Mapping) else None
    if not isinstance(ran, Mapping):
        return f"backup step {spec.backup_step!r} has not run in this run"
    if ran.get("status") != str(Status.SUCCEEDED):
        return f"backup step {spec.backup_step!r} ended {ran.get('status')}, not succeeded"
    return ""


def delete(spec: Any, t: Target, ctx: StepRun, deadline: Deadline) -> StepResult:
    if not spec.force:
        missing = backup_problem(spec, ctx)
        if missing:
            return refused(f"deleting profile {t.profile!r} destroys its cluster: {missing}")
    result = run_cli(argv.delete_argv(t), ctx, deadline)
    if not result.ok:
        return failure(result, f"deleting profile {t.profile!r}")
    why = f"backup taken by step {spec.backup_step!r}"
    if spec.force:
        why = "forced without a backup"
    return succeeded(result, f"profile {t.profile!r} deleted ({why})", changed=True)


def addon_enabled(
    t: Target, ctx: StepRun, deadline: Deadline
) -> tuple[bool | None, StepResult | None]:
    result = run_cli(argv.addons_list_argv(t), ctx, deadline, read_only=True)
    if not result.ok:
        return None, failure(result, f"reading the addons of profile {t.profile!r}")
    try:
        entry = json.loads(result.stdout).get(t.addon)
    except (ValueError, AttributeError):
        return None, failure(result, "`addons list` did not print a JSON object")
    if not isinstance(entry, Mapping):
        return None, StepResult(Status.FAILED, message=f"minikube has no addon {t.addon!r}")
    return entry.get("Status") == "enabled", None


def addons(spec: Any, t: Target, ctx: StepRun, deadline: Deadline) -> StepResult:
    was, problem = addon_enabled(t, ctx, deadline)
    if problem is not None:
        return problem
    captured = {"profile": t.profile, "addon": t.addon, "was_enabled": was}
    state = "enabled" if spec.enable else "disabled"
    if was == spec.enable:
        return succeeded(
            None, f"addon {t.addon!r} already {state}", captured=captured, changed=False
        )
    result = run_cli(argv.addon_argv(t, spec.enable), ctx, deadline)
    if not result.ok:
        return failure(result, f"addon {t.addon!r}", captured)
    return succeeded(result, f"addon {t.addon!r} {state}", captured=captured, changed=True)


def ssh(spec: Any, t: Target, ctx: StepRun, deadline: Deadline) -> StepResult:
    result = run_cli(argv.ssh_argv(t), ctx, deadline)
    if not result.ok:
        return failure(result, f"command on the node of profile {t.profile!r}")
    value = captured_value(result.stdout) if spec.capture else None
    return succeeded(result, value=value)


def update_context(spec: Any, t: Target, ctx: StepRun, deadline: Deadline) -> StepResult:
    result = run_cli(argv.update_context_argv(t), ctx, deadline)
    if not result.ok:
        return failure(result, f"update-context of profile {t.profile!r}")
    return succeeded(result, "kubeconfig points at the profile's current address")


def logs(spec: Any, t: Target, ctx: StepRun, deadline: Deadline) -> StepResult:
    result = run_cli(argv.logs_argv(t), ctx, deadline, read_only=True)
    if not result.ok:
        return failure(result, f"logs of profile {t.profile!r}")
    tail = "\n".join(result.stdout.splitlines()[-t.tail_lines :]) if t.tail_lines else ""
    return succeeded(result, f"kept the last {t.tail_lines} log lines", value=tail)


ACTIONS: dict[str, Action] = {
    "status": status,
    "start": start,
    "stop": stop,
    "restart": restart,
    "delete": delete,
    "addons": addons,
    "ssh": ssh,
    "update_context": update_context,
    "logs": logs,
}


def undo(spec: Any, captured: Mapping[str, Any], ctx: StepRun) -> StepResult:
    """Undo a start (stop it if it was not running), a stop (start it again with the
    configuration captured before), or an addon change (set it back)."""
    deadline = Deadline(ctx.timeout)
    profile = str(captured.get("profile", ""))
    if spec.action == "start":
        if captured.get("was_running"):
            return succeeded(None, f"profile {profile!r} was already running; left running")
        return _run_undo(argv.stop_argv(Target(profile)), ctx, deadline, "stopping it again")
    if spec.action == "stop":
        if not captured.get("was_running"):
            return succeeded(None, f"profile {profile!r} was not running; left stopped")
        config = config_from_value(dict(captured["config"]))
        return _run_undo(argv.restart_from(config), ctx, deadline, "starting it again")
    return _undo_addon(spec, captured, ctx, deadline)


def _undo_addon(
    spec: Any, captured: Mapping[str, Any], ctx: StepRun, deadline: Deadline
) -> StepResult:
    was = captured.get("was_enabled")
    if was is None:
        return StepResult(Status.FAILED, message="the addon's earlier state was not captured")
    target = Target(str(captured["profile"]), addon=str(captured["addon"]))
    if bool(was) == bool(spec.enable):
        return succeeded(None, f"addon {target.addon!r} was already in that state; left as is")
    return _run_undo(argv.addon_argv(target, bool(was)), ctx, deadline, "setting the addon back")


def _run_undo(command: list[str], ctx: StepRun, deadline: Deadline, doing: str) -> StepResult:
    result = run_cli(command, ctx, deadline)
    if not result.ok:
        return failure(result, f"undo: {doing}")
    return succeeded(result, f"undone: {doing}")
