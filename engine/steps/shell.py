"""`shell`: a local command. An argv list runs without a shell; a string runs under
`/bin/sh -c` with every interpolated value passed in the environment (`RUNBOOK_V1`…),
never written into the script (`engine.core.shellsyntax`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgspec import Struct, field

from engine.backends.command_result import Expect, command_result, parse_expect
from engine.backends.local.process import CannotStart, run_process
from engine.core.findings import Location
from engine.core.results import Planned, Status, StepResult, Verdict
from engine.steps.base import DEFAULT_STEP_TIMEOUT, Detail, StepContext
from engine.steps.common import checked_env, parse_run, render_command, sent_details

needs_human = False
default_timeout: float | None = DEFAULT_STEP_TIMEOUT
probed = True
command_fields: frozenset[str] = frozenset({"run"})
stdin_fields: frozenset[str] = frozenset({"stdin"})


class ShellSpec(Struct, frozen=True):
    """A parsed `shell:` body: the command, its environment, and checks."""

    run: str | tuple[str, ...]
    env: Mapping[str, str]
    cwd: str | None = None
    stdin: str | None = None
    expect: Expect = field(default_factory=Expect)
    capture: str | None = None


def parse(body: Any, where: Location) -> ShellSpec:
    return ShellSpec(
        run=parse_run(body["run"]),
        env=checked_env(body.get("env"), shell_names=False),
        cwd=body.get("cwd"),
        stdin=body.get("stdin"),
        expect=parse_expect(body.get("expect")),
        capture=body.get("capture"),
    )


def is_readonly(spec: ShellSpec) -> bool:
    return False  # a command may change anything; authors mark read-only ones


def undoes_itself(spec: ShellSpec) -> bool:
    return False


def capture_name(spec: ShellSpec) -> str | None:
    return spec.capture


def expectation(spec: ShellSpec) -> str:
    return str(spec.expect)


def plan(spec: ShellSpec, ctx: StepContext) -> Planned:
    command = render_command(spec.run, ctx.render)
    ctx.render.value(dict(spec.env))  # renders now, so a bad template fails the plan
    return Planned(command.shown, readonly=False, verdict=Verdict.UNKNOWN)


def details(spec: ShellSpec, ctx: StepContext) -> list[Detail]:
    return sent_details(spec.env, spec.stdin, ctx.render, spec.cwd)


def apply(spec: ShellSpec, ctx: StepContext) -> StepResult:
    command = render_command(spec.run, ctx.render)
    argv = command.argv
    env = {key: ctx.render.text(value) for key, value in spec.env.items()}
    env.update(command.values)
    cwd = str(ctx.base_dir / ctx.render.text(spec.cwd)) if spec.cwd else None
    try:
        outcome = run_process(
            argv,
            env=env,
            cwd=cwd,
            stdin=ctx.render.text(spec.stdin) if spec.stdin is not None else None,
            timeout=ctx.timeout,
            on_output=ctx.on_output,
            cancel=ctx.cancel,
            cap=ctx.output_cap,
            on_started=ctx.on_started,
            contain=ctx.containment,
            withhold=ctx.withheld_env,
        )
    except CannotStart as exc:
        return StepResult(Status.FAILED, message=str(exc))  # nothing ran
    if outcome.cancelled:
        return StepResult(Status.UNKNOWN, None, outcome.output, "cancelled; process group killed")
    return command_result(
        outcome.exit_code,
        outcome.stdout,
        outcome.output,
        spec.expect,
        outcome.timed_out,
        spec.capture is not None,
    )


def undo(spec: ShellSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    return StepResult(Status.FAILED, message="a shell step has no automatic undo; declare `undo:`")
