"""`ssh`: a command on a remote host, or on every host of an inventory group.

`run` is an argv list (joined with `shlex.join` for the remote shell) or a string whose
interpolated values are shell-quoted, as for `shell`. `env` reaches the remote command
through a script on stdin, never argv; `sudo: true` runs `sudo -n` (never prompts).
Hosts come from the run's inventory (`engine.backends.ssh.inventory`); one transport per host
is shared by every step of the run. paramiko is imported only when a step runs.

A group step that fails on some hosts undoes itself on the hosts where it succeeded
(its declared `undo:`, restricted to those hosts) before reporting the failure: the
runner does not undo a failed step, and the other hosts must not be left half-changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field
from msgspec.structs import replace

from engine.backends.command_result import Expect, parse_expect
from engine.backends.ssh.command import RemoteCommand
from engine.backends.ssh.errors import RemoteError
from engine.backends.ssh.group import Job, combine, host_output, run_hosts, run_on_host
from engine.backends.ssh.pool import run_inventory
from engine.core.errors import EngineError
from engine.core.findings import Location
from engine.core.results import Planned, Status, StepResult, Verdict
from engine.steps.base import DEFAULT_STEP_TIMEOUT, Detail, StepContext
from engine.steps.common import Command, checked_env, parse_run, render_command, sent_details
from engine.steps.registry import step_type

if TYPE_CHECKING:
    from engine.backends.ssh.group import HostResult, Job
    from engine.backends.ssh.inventory import Host, Inventory
    from engine.model.playbook import Action, Step


needs_human = False
default_timeout: float | None = DEFAULT_STEP_TIMEOUT
probed = True
command_fields: frozenset[str] = frozenset({"run"})
stdin_fields: frozenset[str] = frozenset({"stdin"})


class SshSpec(Struct, frozen=True):
    host: str
    run: str | tuple[str, ...]
    env: Mapping[str, str]
    sudo: bool = False
    stdin: str | None = None
    expect: Expect = field(default_factory=Expect)
    capture: str | None = None
    parallel: int = 1


def parse(body: Any, where: Location) -> SshSpec:
    """The step body as an SshSpec; env names must be shell variable names."""
    return SshSpec(
        host=str(body["host"]),
        run=parse_run(body["run"]),
        env=checked_env(body.get("env"), shell_names=True),
        sudo=bool(body.get("sudo", False)),
        stdin=body.get("stdin"),
        expect=parse_expect(body.get("expect")),
        capture=body.get("capture"),
        parallel=int(body.get("parallel", 1)),
    )


def is_readonly(spec: SshSpec) -> bool:
    return False  # a command may change anything; authors mark read-only ones


def undoes_itself(spec: SshSpec) -> bool:
    return False


def capture_name(spec: SshSpec) -> str | None:
    return spec.capture


def expectation(spec: SshSpec) -> str:
    return str(spec.expect)


def describe(spec: SshSpec, command: Command, host: str) -> str:
    return f"ssh {host}: {'sudo -n ' if spec.sudo else ''}{command.shown}"


def plan(spec: SshSpec, ctx: StepContext) -> Planned:
    """The remote command as `plan` shows it; a secret in `run` is refused (argv shows
    in `ps`), whether in an argv list or a string."""
    command = render_command(spec.run, ctx.render)
    ctx.render.value(dict(spec.env))  # renders now, so a bad template fails the plan
    if spec.stdin is not None:
        ctx.render.text(spec.stdin)
    return Planned(describe(spec, command, ctx.render.text(spec.host)), False, Verdict.UNKNOWN)


def details(spec: SshSpec, ctx: StepContext) -> list[Detail]:
    return sent_details(spec.env, spec.stdin, ctx.render)


def apply(spec: SshSpec, ctx: StepContext) -> StepResult:
    """Run on the target host(s); connection problems are a FAILED result naming the phase."""

    try:
        job = _job(spec, ctx)
        job.command.payload()  # a value no host can be sent fails here, before connecting
        inventory, hosts = _targets(spec, ctx)
    except RemoteError as exc:
        return StepResult(Status.FAILED, message=exc.summary())
    if not hosts:
        return StepResult(Status.SKIPPED, message="no host left to run on")
    results = _run(job, spec, ctx, inventory, hosts)
    combined = combine(results, hosts, ctx.output_cap)
    return _compensate(spec, ctx, results, combined)


def undo(spec: SshSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    return StepResult(Status.FAILED, message="an ssh step has no automatic undo; declare `undo:`")


def _targets(spec: SshSpec, ctx: StepContext) -> tuple[Inventory, tuple[Host, ...]]:
    inventory = run_inventory(ctx.inventory, ctx.base_dir, ctx.resources)
    hosts = inventory.resolve(ctx.render.text(spec.host))
    only = ctx.only_hosts
    return inventory, tuple(h for h in hosts if only is None or h.name in only)


def _job(spec: SshSpec, ctx: StepContext) -> Job:
    run = render_command(spec.run, ctx.render)
    env = {name: ctx.render.text(value) for name, value in spec.env.items()}
    env.update(run.values)
    stdin = ctx.render.text(spec.stdin) if spec.stdin is not None else None
    command = RemoteCommand(tuple(run.argv), env, stdin, spec.sudo)
    return Job(command, spec.expect, spec.capture is not None)


def _run(
    job: Job, spec: SshSpec, ctx: StepContext, inventory: Inventory, hosts: tuple[Host, ...]
) -> list[HostResult]:

    output = host_output(ctx.on_output, grouped=len(hosts) > 1)
    return run_hosts(
        hosts, lambda host: run_on_host(host, inventory, job, ctx, output(host.name)), spec.parallel
    )


def _undo_to_compensate(step: Step | None, spec: SshSpec) -> Action | None:
    """The declared undo when this is the step's own action (not its undo) and the
    runner would not undo it after a failure (`undo_if_interrupted`: it undoes everywhere)."""
    if step is None or step.undo is None or step.undo_if_interrupted:
        return None
    return step.undo if step.action.spec is spec else None


def _compensate(
    spec: SshSpec, ctx: StepContext, results: list[HostResult], combined: StepResult
) -> StepResult:
    """A group step that failed somewhere: undo it where it succeeded, say so."""
    undo_action = _undo_to_compensate(ctx.step, spec)
    done = tuple(r.host for r in results if r.result.ok)
    if combined.ok or len(results) < 2 or not done or undo_action is None:
        return combined

    ctx.on_output(f"undoing {ctx.step_id} on {', '.join(done)} (it succeeded there)")
    undo_ctx = replace(ctx, only_hosts=done)
    try:
        undone = step_type(undo_action.type).apply(undo_action.spec, undo_ctx)
    except EngineError as exc:  # e.g. the undo's template cannot be rendered
        undone = StepResult(Status.FAILED, message=exc.message)
    verdict = "undone" if undone.ok else f"UNDO {undone.status.upper()}: a human must look"
    message = f"{combined.message}; {verdict} on {', '.join(done)}"
    if not undone.ok and undone.message:
        message += f" ({undone.message})"
    captured = {**combined.captured, "undone_on": list(done), "undo_status": str(undone.status)}
    return replace(combined, message=message, captured=captured, compensation=undone.status)
